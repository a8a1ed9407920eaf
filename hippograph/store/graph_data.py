"""What a store reads for a graph view: a namespace's graph as arrays (`GraphData`), and the
records written since a view was read (`GraphDelta`, applied by graph/delta.py)."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NoReturn

import numpy as np

from ..errors import StoreError

__all__ = ["GraphData", "GraphDelta", "GraphVersion", "fact_row", "stack_vectors"]

_STACK_CHUNK = 65_536  # vectors whose bytes are joined at a time (96 MB of 384 numbers)


@dataclass(frozen=True)
class GraphVersion:
    """Which state of the store a graph was read at."""

    token: str  # the namespace's version (Store.namespace_version)
    store_id: str | None  # the store's identity in the change log (None: nothing logged yet)
    change_seq: int  # the last write in the change log (store/changes.py)


@dataclass
class GraphData:
    """A namespace's graph as arrays.

    Entities and passages are slots, read from the store in id order. A view kept up to date
    (graph/delta.py) marks deleted nodes dead (`entity_alive`, `passage_alive`), appends new
    passages, and puts new entities into the `entity_room` empty slots at the end of the
    entities (dead, id ""), so that no node's index moves while its view lives (passage nodes
    come after every entity slot); edges (facts, mentions, synonyms, links) only join live nodes.
    """

    version: GraphVersion
    entity_ids: list[str]
    entity_names: list[str]
    entity_alive: np.ndarray  # (entities,) bool
    passage_ids: list[str]
    passage_titles: list[str]
    passage_times: np.ndarray  # (passages,) str: UTC ISO times
    passage_vectors: np.ndarray  # (passages, dim) float32
    passage_alive: np.ndarray  # (passages,) bool
    fact_ids: list[str]
    fact_subjects: np.ndarray  # (facts,) entity index
    fact_objects: np.ndarray  # (facts,) entity index
    fact_relations: list[str]
    fact_vector_rows: np.ndarray  # (facts,) row of fact_vectors; -1 for a fact without a vector
    fact_vectors: np.ndarray  # (vectors, dim) float32: the vectors of facts embedded for fact linking
    fact_valid_from: np.ndarray  # (facts,) str: UTC ISO times, "" when unknown
    fact_valid_to: np.ndarray  # (facts,) str: "" while still valid
    mention_passages: np.ndarray  # (mentions,) passage index
    mention_entities: np.ndarray  # (mentions,) entity index
    synonym_a: np.ndarray  # (synonyms,) entity index
    synonym_b: np.ndarray
    synonym_weights: np.ndarray
    link_a: np.ndarray  # (links,) passage index
    link_b: np.ndarray
    link_weights: np.ndarray
    link_kinds: list[str]
    entity_room: int = 0
    in_store_order: bool = True  # nodes and edges sorted by id (False once a delta appended some)

    @property
    def fact_has_vector(self) -> np.ndarray:
        """(facts,) bool: embedded for fact linking."""
        return self.fact_vector_rows >= 0

    @property
    def dead_nodes(self) -> int:
        """Nodes deleted (the empty entity slots not counted)."""
        return int((~self.entity_alive).sum() - self.entity_room + (~self.passage_alive).sum())

    def with_room(self, entities: int) -> GraphData:
        """This graph with `entities` more empty entity slots."""
        return dataclasses.replace(
            self,
            entity_ids=[*self.entity_ids, *[""] * entities],
            entity_names=[*self.entity_names, *[""] * entities],
            entity_alive=np.concatenate([self.entity_alive, np.zeros(entities, dtype=bool)]),
            entity_room=self.entity_room + entities,
        )

    @classmethod
    def from_rows(
        cls,
        version: GraphVersion,
        entities: list,
        passages: list,
        facts: list,
        mentions: list,
        synonyms: list,
        links: list,
    ) -> GraphData:
        """A snapshot from what a store read, each list in id order: entities (id, name); passages
        (id, float32 vector bytes, title, time); facts (subject id, object id, relation, vector
        bytes or None, valid_from, valid_to, id); mentions (passage id, entity id); synonyms (a,
        b, weight); links (a, b, weight, kind)."""
        try:
            return cls._from_rows(version, (entities, passages, facts, mentions, synonyms, links))
        except (KeyError, ValueError) as err:  # a record naming one that is not there, a vector of another size
            raise StoreError(
                f"the store holds a record that does not fit the others ({type(err).__name__}: "
                f"{err}); `hippograph export` it and import the file into a new store to find "
                "which"
            ) from None

    @classmethod
    def _from_rows(cls, version: GraphVersion, rows: tuple[list, ...]) -> GraphData:
        entities, passages, facts, mentions, synonyms, links = rows
        entity_index = {entity_id: i for i, (entity_id, _) in enumerate(entities)}
        passage_index = {row[0]: i for i, row in enumerate(passages)}
        passage_vectors = stack_vectors([p[1] for p in passages], ids=[f"passage {p[0]}" for p in passages])
        embedded = [f for f in facts if f[3] is not None]
        vector_rows = np.cumsum([f[3] is not None for f in facts], dtype=np.int64) - 1
        return cls(
            version=version,
            entity_ids=[e[0] for e in entities],
            entity_names=[e[1] for e in entities],
            entity_alive=np.ones(len(entities), dtype=bool),
            passage_ids=[p[0] for p in passages],
            passage_titles=_shared(p[2] for p in passages),
            passage_times=np.array([p[3] for p in passages], dtype=str),
            passage_vectors=passage_vectors,
            passage_alive=np.ones(len(passages), dtype=bool),
            fact_ids=[f[6] for f in facts],
            fact_subjects=np.array([entity_index[f[0]] for f in facts], dtype=np.int64),
            fact_objects=np.array([entity_index[f[1]] for f in facts], dtype=np.int64),
            fact_relations=_shared(f[2] for f in facts),
            fact_vector_rows=np.where([f[3] is not None for f in facts], vector_rows, -1).astype(np.int64),
            fact_vectors=stack_vectors(
                [f[3] for f in embedded],
                passage_vectors.shape[1],
                ids=[f"fact {f[0]} -{f[2]}-> {f[1]}" for f in embedded],
            ),
            fact_valid_from=np.array([f[4] or "" for f in facts], dtype=str),
            fact_valid_to=np.array([f[5] or "" for f in facts], dtype=str),
            mention_passages=np.array([passage_index[m[0]] for m in mentions], dtype=np.int64),
            mention_entities=np.array([entity_index[m[1]] for m in mentions], dtype=np.int64),
            synonym_a=np.array([entity_index[s[0]] for s in synonyms], dtype=np.int64),
            synonym_b=np.array([entity_index[s[1]] for s in synonyms], dtype=np.int64),
            synonym_weights=np.array([s[2] for s in synonyms], dtype=np.float64),
            link_a=np.array([passage_index[link[0]] for link in links], dtype=np.int64),
            link_b=np.array([passage_index[link[1]] for link in links], dtype=np.int64),
            link_weights=np.array([link[2] for link in links], dtype=np.float64),
            link_kinds=_shared(link[3] for link in links),
        )

    def as_of(self, time: str) -> GraphData:
        """The graph as it was at `time` (UTC ISO), live nodes only: the notes written by then,
        and the facts valid then (stated by then and not yet ended); entities stay, unconnected
        if nothing names them."""
        passages = self.passage_alive & (self.passage_times <= time)
        facts = (self.fact_valid_from <= time) & ((self.fact_valid_to == "") | (self.fact_valid_to > time))
        return self.kept(self.entity_alive, passages, facts)

    def kept(self, entities: np.ndarray, passages: np.ndarray, facts: np.ndarray | None = None) -> GraphData:
        """The graph of the entities and passages two bool masks keep (and of the facts a third
        keeps, among those joining kept entities), in the order a store reads them: nodes and
        edges sorted by their ids."""
        facts = (True if facts is None else facts) & entities[self.fact_subjects] & entities[self.fact_objects]
        entity_order = _by_key(np.flatnonzero(entities), self.entity_ids)
        passage_order = _by_key(np.flatnonzero(passages), self.passage_ids)
        entity_index, passage_index = np.full(len(entities), -1), np.full(len(passages), -1)
        entity_index[entity_order] = np.arange(len(entity_order))
        passage_index[passage_order] = np.arange(len(passage_order))
        fact_order = _by_key(np.flatnonzero(facts), self.fact_ids)
        pid, eid = self.passage_ids, self.entity_ids
        mentions = np.flatnonzero(passages[self.mention_passages] & entities[self.mention_entities])
        mention_order = _by_key(mentions, list(zip(_at(pid, self.mention_passages), _at(eid, self.mention_entities))))
        synonyms = np.flatnonzero(entities[self.synonym_a] & entities[self.synonym_b])
        synonym_order = _by_key(synonyms, list(zip(_at(eid, self.synonym_a), _at(eid, self.synonym_b))))
        links = np.flatnonzero(passages[self.link_a] & passages[self.link_b])
        link_order = _by_key(links, list(zip(_at(pid, self.link_a), _at(pid, self.link_b))))
        embedded = self.fact_vector_rows[fact_order]
        vector_rows = np.where(embedded >= 0, np.cumsum(embedded >= 0) - 1, -1)
        return dataclasses.replace(
            self,
            entity_ids=_at(self.entity_ids, entity_order),
            entity_names=_at(self.entity_names, entity_order),
            entity_alive=np.ones(len(entity_order), dtype=bool),
            entity_room=0,
            in_store_order=True,
            passage_ids=_at(self.passage_ids, passage_order),
            passage_titles=_at(self.passage_titles, passage_order),
            passage_times=self.passage_times[passage_order],
            passage_vectors=self.passage_vectors[passage_order],
            passage_alive=np.ones(len(passage_order), dtype=bool),
            fact_ids=_at(self.fact_ids, fact_order),
            fact_subjects=entity_index[self.fact_subjects[fact_order]],
            fact_objects=entity_index[self.fact_objects[fact_order]],
            fact_relations=_at(self.fact_relations, fact_order),
            fact_vector_rows=vector_rows.astype(np.int64),
            fact_vectors=self.fact_vectors[embedded[embedded >= 0]],
            fact_valid_from=self.fact_valid_from[fact_order],
            fact_valid_to=self.fact_valid_to[fact_order],
            mention_passages=passage_index[self.mention_passages[mention_order]],
            mention_entities=entity_index[self.mention_entities[mention_order]],
            synonym_a=entity_index[self.synonym_a[synonym_order]],
            synonym_b=entity_index[self.synonym_b[synonym_order]],
            synonym_weights=self.synonym_weights[synonym_order],
            link_a=passage_index[self.link_a[link_order]],
            link_b=passage_index[self.link_b[link_order]],
            link_weights=self.link_weights[link_order],
            link_kinds=_at(self.link_kinds, link_order),
        )

    def compacted(self) -> GraphData:
        """The live nodes only, in the order a store reads them (self when it holds just that)."""
        if self.in_store_order and not self.dead_nodes and not self.entity_room:
            return self
        return self.kept(self.entity_alive, self.passage_alive)


@dataclass
class GraphDelta:
    """What the writes to a namespace since a view was read left of the records they touched:
    rows as `GraphData.from_rows` takes them (those of the namespace among the nodes and facts;
    edges of other namespaces are among the edges, their ends not in the view), and by record type
    the keys `gone`: deleted, or nodes deleted at some point (their edges go with them, and
    come back as rows of their own when they were written again)."""

    version: GraphVersion
    gone: dict[str, set]
    entities: list
    passages: list
    facts: list
    mentions: list
    synonyms: list
    links: list


def fact_row(fact: dict, vector: bytes | None) -> tuple:
    """A fact record (and its vector's bytes, if read) as `GraphData.from_rows` takes it."""
    return (
        fact["subject_id"],
        fact["object_id"],
        fact["relation"],
        vector,
        fact["valid_from"],
        fact["valid_to"],
        fact["id"],
    )


def stack_vectors(blobs: list[bytes | None], dimension: int | None = None, ids: list[str] | None = None) -> np.ndarray:
    """Vectors stored as float32 bytes, one row each; a missing one (None) becomes zeros. A vector
    of another size, or holding NaN or infinity (which would silently empty every ranking), is a
    StoreError naming its record (by `ids`, one per blob)."""
    if dimension is None:  # the size most vectors have, so that the one that differs is named
        sizes = Counter(len(blob) for blob in blobs if blob is not None)
        dimension = sizes.most_common(1)[0][0] // 4 if sizes else 0
    matrix = np.zeros((len(blobs), dimension), dtype=np.float32)
    held = [row for row, blob in enumerate(blobs) if blob is not None]
    for row in held:
        if len(blobs[row]) != 4 * dimension:
            _bad_vector(row, ids, f"{len(blobs[row]) / 4:g} numbers, not {dimension}")
    # the bytes read in bulk, a chunk at a time (not row by row: 0.7 s for 100,000 vectors)
    for start in range(0, len(held), _STACK_CHUNK):
        rows = held[start : start + _STACK_CHUNK]
        matrix[rows] = np.frombuffer(b"".join(blobs[row] for row in rows), dtype=np.float32).reshape(
            len(rows), dimension
        )
    not_finite = np.flatnonzero(~np.isfinite(matrix).all(axis=1))
    if len(not_finite):
        _bad_vector(int(not_finite[0]), ids, "NaN or infinity")
    return matrix


def _bad_vector(row: int, ids: list[str] | None, what: str) -> NoReturn:
    raise StoreError(
        f"the stored vector of {ids[row] if ids else f'row {row}'} holds {what}; "
        "`hippograph export` the store and import the file into a new one to find what "
        "else does not fit"
    )


def _by_key(rows: np.ndarray, keys: list) -> np.ndarray:
    """`rows` (indexes into `keys`, whose items may be looked up by index) sorted by key."""
    return np.array(sorted(rows.tolist(), key=keys.__getitem__), dtype=np.int64)


def _at(values: list, rows: np.ndarray) -> list:
    return [values[i] for i in rows.tolist()]


def _shared(strings: Iterable[str]) -> list[str]:
    """The strings, each distinct one a single object: a million facts name a few thousand
    relations (one string each in memory, and once in a saved view)."""
    distinct: dict[str, str] = {}
    return [distinct.setdefault(string, string) for string in strings]
