"""Nearest neighbours by embedding: synonymy edges between entities, links between notes."""

from __future__ import annotations

import numpy as np

from ..growing import appended


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

    def add(self, ids: list[str], vectors: np.ndarray) -> None:
        """Index the items not indexed yet, after those already known."""
        new = [i for i, item in enumerate(ids) if item not in self._position]
        for i in new:
            self._position[ids[i]] = len(self._ids)
            self._ids.append(ids[i])
        if new:
            added = vectors[new]
            self._vectors = added if len(self._ids) == len(new) else appended(self._vectors, added)

    def link(
        self, ids: list[str], vectors: np.ndarray, threshold: float, max_neighbors: int
    ) -> list[tuple[str, str, float]]:
        """Index the items not indexed yet; return the pairs (a < b, cosine similarity) of each
        given item with the items indexed (given ones included)."""
        self.add(ids, vectors)
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

    def nearest_earlier(self, item_id: str, count: int) -> list[str]:
        """The `count` items indexed before `item_id` that are closest to it, closest first."""
        own = self._position[item_id]
        if own == 0:
            return []
        scores = self._vectors[:own] @ self._vectors[own]
        order = np.argsort(-scores, kind="stable")[:count]
        return [self._ids[i] for i in order]

    def similarity(self, item_id: str, other_id: str) -> float:
        """Cosine similarity of two indexed items."""
        return float(self._vectors[self._position[item_id]] @ self._vectors[self._position[other_id]])

    def is_before(self, item_id: str, other_id: str) -> bool:
        """Whether `item_id` was indexed before `other_id`."""
        return self._position[item_id] < self._position[other_id]

    def __contains__(self, item_id: str) -> bool:
        return item_id in self._position
