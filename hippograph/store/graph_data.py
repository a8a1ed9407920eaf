"""What a store reads for a graph view: a namespace's graph as arrays (`GraphData`), and the
records written since a view was read (`GraphDelta`, applied by graph/delta.py)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from ..errors import StoreError
from .graph_rows import FactColumns, columns, pairs, shared, weighted_pairs
from .stored_vectors import GraphVectors, RecordName, stack_vectors

__all__ = ["GraphData", "GraphDelta", "GraphVersion", "fact_row"]


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
        """A snapshot from rows a store read, each list in id order: entities (id, name); passages
        (id, float32 vector bytes or None, title, time); facts (subject id, object id, relation,
        vector bytes or None, valid_from, valid_to, id); mentions (passage id, entity id); synonyms
        (a, b, weight); links (a, b, weight, kind). A passage without a vector gets zeros."""

        def given(passage_blobs: list, fact_blobs: list, name: RecordName) -> GraphVectors:
            passage_vectors = stack_vectors(passage_blobs, ids=[name("passage", row) for row in range(len(passages))])
            embedded = [row for row, blob in enumerate(fact_blobs) if blob is not None]
            fact_vectors = stack_vectors(
                [fact_blobs[row] for row in embedded], passage_vectors.shape[1], [name("fact", row) for row in embedded]
            )
            found = np.array([blob is not None for blob in fact_blobs], dtype=bool)
            return GraphVectors(passage_vectors, np.ones(len(passages), dtype=bool), fact_vectors, found)

        return cls.read(version, entities, passages, facts, mentions, synonyms, links, given)

    @classmethod
    def read(
        cls,
        version: GraphVersion,
        entities: Iterable[tuple],
        passages: Iterable[tuple],
        facts: Iterable[tuple],
        mentions: Iterable[tuple],
        synonyms: Iterable[tuple],
        links: Iterable[tuple],
        vectors: Callable[[list, list, RecordName], GraphVectors],
    ) -> GraphData:
        """A snapshot from rows as `from_rows` takes them, but streamed (each iterable is read once,
        a chunk at a time, so that no row outlives its chunk: ten million mentions as tuples held
        two gigabytes) and with each vector column holding what `vectors` reads the vectors by:
        `vectors(passage column, fact column, name)`. A passage whose vector it does not find is
        left out."""
        try:
            return cls._read(version, entities, passages, facts, (mentions, synonyms, links), vectors)
        except (KeyError, ValueError) as err:  # a record naming one that is not there, a vector of another size
            raise StoreError(
                f"the store holds a record that does not fit the others ({type(err).__name__}: "
                f"{err}); `hippograph export` it and import the file into a new store to find "
                "which"
            ) from None

    @classmethod
    def _read(
        cls,
        version: GraphVersion,
        entities: Iterable[tuple],
        passages: Iterable[tuple],
        facts: Iterable[tuple],
        edges: tuple[Iterable[tuple], ...],
        vectors: Callable[[list, list, RecordName], GraphVectors],
    ) -> GraphData:
        entity_ids, entity_names = columns(entities, 2)
        entity_index = dict(zip(entity_ids, range(len(entity_ids))))
        passage_ids, passage_keys, passage_titles, passage_times = columns(passages, 4)
        fact = FactColumns.of(facts, entity_index)

        def name(kind: str, row: int) -> str:
            if kind == "passage":
                return f"passage {passage_ids[row]}"
            return f"fact {entity_ids[fact.subjects[row]]} -{fact.relations[row]}-> {entity_ids[fact.objects[row]]}"

        read = vectors(passage_keys, fact.vector_keys, name)
        passage_keys = fact.vector_keys = []  # let a million keys go (100 MB)
        passage_vectors, kept = read.passages, read.passage_found
        if not kept.all():
            passage_ids, passage_titles, passage_times = (
                _at(c, np.flatnonzero(kept)) for c in (passage_ids, passage_titles, passage_times)
            )
            passage_vectors = passage_vectors[kept]
        passage_index = dict(zip(passage_ids, range(len(passage_ids))))
        mentions, synonyms, links = edges
        mention_passages, mention_entities = pairs(mentions, passage_index, entity_index)
        synonym_a, synonym_b, synonym_weights, _ = weighted_pairs(synonyms, entity_index)
        link_a, link_b, link_weights, link_kinds = weighted_pairs(links, passage_index)
        return cls(
            version=version,
            entity_ids=entity_ids,
            entity_names=entity_names,
            entity_alive=np.ones(len(entity_ids), dtype=bool),
            passage_ids=passage_ids,
            passage_titles=shared(passage_titles),
            passage_times=np.array(passage_times, dtype=str),
            passage_vectors=passage_vectors,
            passage_alive=np.ones(len(passage_ids), dtype=bool),
            fact_ids=fact.ids,
            fact_subjects=fact.subjects,
            fact_objects=fact.objects,
            fact_relations=fact.relations,
            fact_vector_rows=np.where(read.fact_found, np.cumsum(read.fact_found) - 1, -1).astype(np.int64),
            fact_vectors=read.facts,
            fact_valid_from=fact.valid_from,
            fact_valid_to=fact.valid_to,
            mention_passages=mention_passages,
            mention_entities=mention_entities,
            synonym_a=synonym_a,
            synonym_b=synonym_b,
            synonym_weights=synonym_weights,
            link_a=link_a,
            link_b=link_b,
            link_weights=link_weights,
            link_kinds=link_kinds,
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


def _by_key(rows: np.ndarray, keys: list) -> np.ndarray:
    """`rows` (indexes into `keys`, whose items may be looked up by index) sorted by key."""
    return np.array(sorted(rows.tolist(), key=keys.__getitem__), dtype=np.int64)


def _at(values: list, rows: np.ndarray) -> list:
    return [values[i] for i in rows.tolist()]
