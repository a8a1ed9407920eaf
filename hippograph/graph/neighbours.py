"""Nearest neighbours by embedding: synonymy edges between entities, links between notes."""

from __future__ import annotations

import numpy as np


class NeighbourIndex:
    """The vectors of one namespace's entities (or notes), kept in memory while an ingest runs.

    Each item of a batch is paired with at most `max_neighbors` others above the
    threshold, chosen among the items known at that moment: the same input in the
    same order always gives the same pairs.
    """

    def __init__(self, ids: list[str], vectors: np.ndarray) -> None:
        self._ids = list(ids)
        self._position = {entity_id: i for i, entity_id in enumerate(self._ids)}
        self._vectors = vectors

    def remove(self, removed_ids: list[str]) -> None:
        gone = {item for item in removed_ids if item in self._position}
        if not gone:
            return
        keep = [i for i, item in enumerate(self._ids) if item not in gone]
        self._ids = [self._ids[i] for i in keep]
        self._position = {item: i for i, item in enumerate(self._ids)}
        self._vectors = self._vectors[keep]

    def link(self, ids: list[str], vectors: np.ndarray, threshold: float, max_neighbors: int) -> list[tuple[str, str, float]]:
        """Add the items not yet indexed; return the pairs (a < b, cosine similarity) of all given."""
        new = [i for i, item in enumerate(ids) if item not in self._position]
        for i in new:
            self._position[ids[i]] = len(self._ids)
            self._ids.append(ids[i])
        if new:
            added = vectors[new]
            self._vectors = added if len(self._ids) == len(new) else np.vstack([self._vectors, added])
        edges: dict[tuple[str, str], float] = {}
        for start in range(0, len(ids), 1024):
            similarity = vectors[start : start + 1024] @ self._vectors.T
            for row, scores in enumerate(similarity):
                own = self._position[ids[start + row]]
                scores[own] = -1.0
                candidates = np.flatnonzero(scores >= threshold)
                if len(candidates) > max_neighbors:
                    candidates = candidates[np.argsort(-scores[candidates], kind="stable")[:max_neighbors]]
                for other in candidates:
                    a, b = sorted((self._ids[own], self._ids[other]))
                    edges[(a, b)] = float(scores[other])
        return [(a, b, weight) for (a, b), weight in sorted(edges.items())]
