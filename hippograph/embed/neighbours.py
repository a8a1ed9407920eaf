"""Nearest neighbours by embedding: synonymy edges between entities, links between notes.

Below `APPROXIMATE_FROM` items the neighbours are found exactly, comparing with every vector.
From there on, once the index has also linked `LINKED_BEFORE_GRAPH` items, an HNSW graph
(usearch) finds candidates, `CANDIDATES` times as many as asked, and their exact similarities
decide: the pairs are those of the exact search unless a true neighbour was not among the
candidates (tests/test_neighbours.py compares the two). An index crosses to the approximate
search once; items are added one thread at a time, so the same input in the same order gives
the same graph and the same pairs. A batch's searches (each on its own) spread over every core.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from ..growing import appended

APPROXIMATE_FROM = 20_000
# Building the graph costs about as much as 5,000 exact searches of the same items: an index
# loaded from a large store (a live memory adding notes one at a time) stays exact until it has
# linked that many, so a process that adds a few notes never pays for the graph.
LINKED_BEFORE_GRAPH = 5_000
CANDIDATES = 4  # candidates the approximate search asks for, per neighbour wanted
_MIN = 32  # the fewest candidates asked for
ALL_CORES = 0  # usearch's "threads=0": on 2 cores, a batch of searches takes half the time of one


class NeighbourIndex:
    """The vectors of one namespace's entities (or notes), kept in memory while an ingest runs.

    Each item of a batch is paired with at most `max_neighbors` others above the
    threshold, chosen among the items known at that moment: the same input in the
    same order always gives the same pairs. An item's position (the order it came in) never
    changes; a removed item's position stays, dead.
    """

    def __init__(
        self,
        ids: list[str],
        vectors: np.ndarray,
        approximate_from: int = APPROXIMATE_FROM,
        linked_before_graph: int = LINKED_BEFORE_GRAPH,
    ) -> None:
        self._ids: list[str] = []
        self._position: dict[str, int] = {}
        self._vectors = np.zeros((0, vectors.shape[1] if vectors.ndim == 2 else 0), dtype=np.float32)  # (items, dim)
        self._alive = np.zeros(0, dtype=bool)
        self._approximate_from = approximate_from
        self._graph = None  # the usearch index, once the items pass approximate_from
        self._linked_before_graph = linked_before_graph
        self._linked = 0  # items linked through this index so far
        self.add(ids, vectors)

    @property
    def approximate(self) -> bool:
        return self._graph is not None

    def remove(self, removed_ids: list[str]) -> None:
        gone = [self._position.pop(item) for item in removed_ids if item in self._position]
        if gone:
            self._alive = self._alive.copy()
            self._alive[gone] = False
            if self._graph is not None:
                self._graph.remove(np.array(gone, dtype=np.uint64))

    def add(self, ids: list[str], vectors: np.ndarray) -> None:
        """Index the items not indexed yet, after those already known (an id given twice: its
        last vector)."""
        new = list({item: i for i, item in enumerate(ids) if item not in self._position}.values())
        if not new:
            return
        new.sort()
        start = len(self._ids)
        for offset, i in enumerate(new):
            self._position[ids[i]] = start + offset
        self._ids += [ids[i] for i in new]
        added = np.asarray(vectors[new], dtype=np.float32)
        self._vectors = appended(self._vectors, added) if start else added
        self._alive = appended(self._alive, np.ones(len(new), dtype=bool)) if start else np.ones(len(new), dtype=bool)
        if self._graph is not None:
            self._graph.add(np.arange(start, len(self._ids), dtype=np.uint64), added, threads=1)
        else:
            self._approximate_when_due()

    def _approximate_when_due(self) -> None:
        if self._graph is None and len(self._position) >= self._approximate_from:
            if self._linked >= self._linked_before_graph:
                self._graph = _hnsw(self._vectors, self._alive)

    def link(
        self, ids: list[str], vectors: np.ndarray, threshold: float, max_neighbors: int
    ) -> list[tuple[str, str, float]]:
        """Index the items not indexed yet; return the pairs (a < b, cosine similarity) of each
        given item with the items indexed (given ones included)."""
        self._linked += len(ids)
        self.add(ids, vectors)
        self._approximate_when_due()
        edges: dict[tuple[str, str], float] = {}
        for start in range(0, len(ids), 1024):
            chunk = ids[start : start + 1024]
            similar = self._similar(vectors[start : start + 1024], threshold, max_neighbors + 1)
            for item, (candidates, scores) in zip(chunk, similar):
                keep = candidates != self._position[item]
                candidates, scores = candidates[keep], scores[keep]
                order = np.lexsort((candidates, -scores))[:max_neighbors]  # ties: the earlier item
                for other, score in zip(candidates[order].tolist(), scores[order].tolist()):
                    a, b = sorted((item, self._ids[other]))
                    edges[(a, b)] = float(score)
        return [(a, b, weight) for (a, b), weight in sorted(edges.items())]

    def _similar(self, queries: np.ndarray, threshold: float, wanted: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Per query row: the positions of live items at least `threshold` similar to it and their
        similarities; with the approximate search, among `CANDIDATES` x `wanted` candidates."""
        if self._graph is None:
            similarity = queries @ self._vectors.T
            if not self._alive.all():
                similarity[:, ~self._alive] = -np.inf
            for row in similarity:
                positions = np.flatnonzero(row >= threshold)
                yield positions, row[positions]
            return
        found = self._graph.search(
            np.asarray(queries, dtype=np.float32), max(CANDIDATES * wanted, _MIN), threads=ALL_CORES
        )
        keys = np.atleast_2d(found.keys)
        counts = np.atleast_1d(getattr(found, "counts", keys.shape[1]))  # one query: Matches, no counts
        for query, row_keys, count in zip(queries, keys, counts):
            positions = row_keys[:count].astype(np.int64)
            scores = self._vectors[positions] @ query  # exact: what the threshold is compared with
            keep = scores >= threshold
            yield positions[keep], scores[keep]

    def nearest_earlier(self, item_id: str, count: int) -> list[str]:
        """The `count` live items indexed before `item_id` that are closest to it, closest first."""
        own = self._position[item_id]
        if own == 0:
            return []
        earlier = np.flatnonzero(self._alive[:own])
        scores = self._vectors[earlier] @ self._vectors[own]
        order = np.argsort(-scores, kind="stable")[:count]
        return [self._ids[i] for i in earlier[order].tolist()]

    def similarity(self, item_id: str, other_id: str) -> float:
        """Cosine similarity of two indexed items."""
        return float(self._vectors[self._position[item_id]] @ self._vectors[self._position[other_id]])

    def is_before(self, item_id: str, other_id: str) -> bool:
        """Whether `item_id` was indexed before `other_id`."""
        return self._position[item_id] < self._position[other_id]

    def __contains__(self, item_id: str) -> bool:
        return item_id in self._position

    def __len__(self) -> int:
        """The live items."""
        return len(self._position)

    def take_graph(self, key: Callable[[str], int]):
        """Hand the HNSW graph over (None while the search is exact), each live item keyed by
        `key(its id)` instead of its position; the index has none afterwards (it builds one again
        when due). Of items given one key, the first keeps it and the others leave the graph."""
        graph, self._graph = self._graph, None
        if graph is None:
            return None
        positions = np.flatnonzero(self._alive)  # the graph's keys
        keys = np.array([key(self._ids[position]) for position in positions.tolist()], dtype=np.uint64)
        unique, first = np.unique(keys, return_index=True)
        if len(unique) < len(keys):
            graph.remove(np.delete(positions, first).astype(np.uint64))
        graph.rename(positions[first].astype(np.uint64), unique)
        return graph


def hnsw_graph(dimension: int):
    """An empty HNSW graph (usearch) of unit vectors compared by inner product, held as 8-bit
    integers (round(127 x)). The graph only proposes candidates, which are scored again in full
    precision; a unit vector's inner product in 8 bits is off by about 0.005. Against
    half precision, on 300,000 clustered vectors: an add and a search take 0.15 ms instead of
    0.3 and 0.16 instead of 0.25, and as many true neighbours are among the candidates."""
    from usearch.index import Index

    graph = Index(ndim=dimension, metric="ip", dtype="i8", connectivity=16, expansion_add=32)
    graph.expansion_search = 64
    return graph


def _hnsw(vectors: np.ndarray, alive: np.ndarray):
    """The HNSW graph of the live rows, keyed by row."""
    graph = hnsw_graph(vectors.shape[1])
    rows = np.flatnonzero(alive)
    graph.add(rows.astype(np.uint64), vectors[rows], threads=1)
    return graph
