"""Bringing a graph view up to date: the records the writes since it was read touched (a store's
`GraphDelta`) applied to its arrays and name lookups, instead of reading and building it again.

Nodes keep their index while the view lives: new entities and passages take new slots at the
end, deleted ones stay as dead slots without edges (a passage whose vector, title or time changed
gets a new slot too). Edges are filtered and appended as arrays; name lookups (entity names,
titles, relations) change only where the delta touches them. Vectors grow in buffers with spare
room, so appending a passage does not copy every vector. What is still done for the whole
graph, vectorized, is assembling the sparse adjacency and PageRank system (`GraphView.assemble`).
The result ranks every query as a view built afresh from the store does (tests/test_live_views.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..growing import appended, extended
from ..store.graph_data import GraphData, GraphDelta
from ..store.stored_vectors import stack_vectors
from .adjacency import MAX_DELTA_SHARE
from .linking import EntityIndex, title_keys
from .view import GraphView, edges, titles_naming

__all__ = ["Slots", "updated"]


@dataclass
class Slots:
    """Where each live node of a view is, and each fact: store id -> index (entity, passage, fact
    row)."""

    entities: dict[str, int]
    passages: dict[str, int]
    facts: dict[str, int]

    @classmethod
    def of(cls, data: GraphData) -> Slots:
        return cls(
            {entity: i for i, entity in enumerate(data.entity_ids) if data.entity_alive[i]},
            {passage: i for i, passage in enumerate(data.passage_ids) if data.passage_alive[i]},
            dict(zip(data.fact_ids, range(len(data.fact_ids)))),
        )


def updated(view: GraphView, delta: GraphDelta, slots: Slots) -> GraphView | None:
    """`view` with `delta` applied; `slots` (the view's) are changed to the new view's. None
    when a new view must be built instead: no room left for new entities, or a vector of another
    size than the view's (a first vector: an empty view has no size yet; a view of passages kept
    without vectors reads them without). The old view is left as it was: a query running on it
    meanwhile is unaffected."""
    data = view.data
    dimension = data.passage_vectors.shape[1]
    if any(len(row[1]) != 4 * dimension for row in delta.passages):
        return None
    gone = delta.gone
    dead_entities = [slots.entities.pop(e) for e in gone.get("entity", ()) if e in slots.entities]
    dead_passages = [slots.passages.pop(p) for p in gone.get("passage", ()) if p in slots.passages]
    moving = {}  # passage id -> its slot until now: it changed in the graph, its edges move with it
    for row in delta.passages:
        slot = slots.passages.get(row[0])
        if slot is not None and _passage_changed(data, slot, row):
            moving[row[0]] = slots.passages.pop(row[0])
    new_entities = sorted(row for row in delta.entities if row[0] not in slots.entities)
    if len(new_entities) > data.entity_room:
        return None
    new_passages = sorted((row for row in delta.passages if row[0] not in slots.passages), key=lambda r: r[0])
    first_entity = len(data.entity_ids) - data.entity_room
    for offset, (entity, _) in enumerate(new_entities):
        slots.entities[entity] = first_entity + offset
    for offset, row in enumerate(new_passages):
        slots.passages[row[0]] = len(data.passage_ids) + offset
    moved = {slot: slots.passages[passage] for passage, slot in moving.items()}
    nodes = _with_nodes(data, new_entities, new_passages, dead_entities, dead_passages + list(moved))
    born = {entity for entity, _ in new_entities} | {row[0] for row in new_passages if row[0] not in moving}
    new, removed, added = _with_edges(nodes, delta, slots, moved, born, (dead_entities, dead_passages))
    new = dataclasses.replace(new, version=delta.version, in_store_order=False)
    entity_index, renamed = view.entity_index.updated(
        new.entity_ids,
        [(e, data.entity_names[e]) for e in dead_entities],
        [(slots.entities[entity], name) for entity, name in new_entities],
    )
    titled, topics, topic_change = _titles(
        view, new, entity_index, renamed, dead_passages + list(moved), [slots.passages[r[0]] for r in new_passages]
    )
    weights = view.topic_weight, view.link_weight
    gone_rows, gone_cols, gone_weights = edges(data, topic_change[0], *weights, *removed)
    new_rows, new_cols, new_weights = edges(new, topic_change[1], *weights, *added)
    adjacency = view.adjacency.changed(
        np.concatenate([gone_rows, new_rows]),
        np.concatenate([gone_cols, new_cols]),
        np.concatenate([-gone_weights, new_weights]),
        len(new.entity_ids) + len(new.passage_ids),
    )
    if adjacency.delta_share > MAX_DELTA_SHARE:
        adjacency = None  # assembled again from the arrays
    counts = view.entity_passage_counts.copy()  # entity slots do not change in a delta
    np.subtract.at(counts, data.mention_entities[removed[1]], 1.0)
    np.add.at(counts, new.mention_entities[added[1]], 1.0)
    return GraphView.assemble(
        new,
        entity_index,
        view.relations.changed(data, removed[0], new, added[0]),
        topics,
        titled,
        *weights,
        adjacency=adjacency,
        entity_passage_counts=counts,
    )


def _passage_changed(data: GraphData, slot: int, row: tuple) -> bool:
    _, vector, title, time = row
    return (
        data.passage_titles[slot] != title
        or str(data.passage_times[slot]) != time
        or data.passage_vectors[slot].tobytes() != vector
    )


def _with_nodes(
    data: GraphData, entities: list, passages: list, dead_entities: list[int], dead_passages: list[int]
) -> GraphData:
    """`data` with new entities in its room, new passages appended, and dead nodes marked (edges
    not yet changed)."""
    entity_ids, entity_names, entity_alive = data.entity_ids, data.entity_names, data.entity_alive
    if entities or dead_entities:
        first = len(data.entity_ids) - data.entity_room
        taken = slice(first, first + len(entities))
        entity_ids, entity_names, entity_alive = list(entity_ids), list(entity_names), entity_alive.copy()
        entity_ids[taken] = [e for e, _ in entities]
        entity_names[taken] = [name for _, name in entities]
        entity_alive[taken] = True
        entity_alive[dead_entities] = False
    passage_alive = np.concatenate([data.passage_alive, np.ones(len(passages), dtype=bool)])
    passage_alive[dead_passages] = False
    vectors = stack_vectors(
        [row[1] for row in passages], data.passage_vectors.shape[1], [f"passage {r[0]}" for r in passages]
    )
    return dataclasses.replace(
        data,
        entity_ids=entity_ids,
        entity_names=entity_names,
        entity_alive=entity_alive,
        entity_room=data.entity_room - len(entities),
        passage_ids=extended(data.passage_ids, [row[0] for row in passages]),
        passage_titles=extended(data.passage_titles, [row[2] for row in passages]),
        passage_times=appended(data.passage_times, np.array([row[3] for row in passages], dtype=str)),
        passage_vectors=appended(data.passage_vectors, vectors),
        passage_alive=passage_alive,
    )


def _with_edges(
    data: GraphData, delta: GraphDelta, slots: Slots, moved: dict[int, int], born: set[str], dead: tuple[list, list]
) -> tuple[GraphData, tuple[np.ndarray, ...], tuple[np.ndarray, ...]]:
    """`data` without the edges of dead nodes and the edges the delta deleted or wrote again,
    and with the edges it wrote whose ends are nodes of the view; the edges of passages that
    `moved` (old slot -> new slot) go with them, and facts written again change in place. Also
    the rows (facts, mentions, synonyms, links) of the edges removed, in `data`'s arrays, and of
    those added, in the new arrays. `born`: the ids of the nodes new in this delta (no edge of
    theirs can be in `data`); `dead`: the (entity, passage) slots that died in it. Edges are
    only looked at where some go: an add, the common write, just appends."""
    entity, passage = slots.entities, slots.passages
    size = max(len(data.entity_ids), len(data.passage_ids), 1)
    dead_entities, dead_passages = (np.array(nodes, dtype=np.int64) for nodes in dead)
    to = np.arange(len(data.passage_ids))  # where each passage slot's edges go
    to[list(moved)] = list(moved.values())

    def staying(a: np.ndarray, b: np.ndarray, dead_a: np.ndarray, dead_b: np.ndarray, kind: str, rows: list, ids):
        """Which edges (a, b) stay: neither end dead, not deleted or written again by the delta
        (edges of `kind`, keyed by their ends; None: facts, keyed by id, are left to the caller)."""
        keep = np.ones(len(a), dtype=bool)
        for ends, gone in ((a, dead_a), (b, dead_b)):
            if len(gone):
                keep &= ~np.isin(ends, gone)
        if kind is None:
            return keep
        keys = {key for key in delta.gone.get(kind, set()) | {row[:2] for row in rows} if born.isdisjoint(key)}
        codes = _codes(keys, *ids, size)
        return keep & ~np.isin(a * size + b, codes) if len(codes) else keep

    mention_passages = to[data.mention_passages] if moved else data.mention_passages
    staying_mentions = staying(
        mention_passages,
        data.mention_entities,
        dead_passages,
        dead_entities,
        "mention",
        delta.mentions,
        (passage, entity),
    )
    moves = mention_passages != data.mention_passages
    keep_mentions, carried_mentions = staying_mentions & ~moves, staying_mentions & moves
    keep_synonyms = staying(
        data.synonym_a, data.synonym_b, dead_entities, dead_entities, "synonym", delta.synonyms, (entity, entity)
    )
    link_a, link_b = (to[data.link_a], to[data.link_b]) if moved else (data.link_a, data.link_b)
    staying_links = staying(link_a, link_b, dead_passages, dead_passages, "link", delta.links, (passage, passage))
    moves = (link_a != data.link_a) | (link_b != data.link_b)
    keep_links, carried_links = staying_links & ~moves, staying_links & moves
    keep_facts = staying(data.fact_subjects, data.fact_objects, dead_entities, dead_entities, None, [], ({}, {}))
    keep_facts[[slots.facts[f] for f in delta.gone.get("fact", ()) if f in slots.facts]] = False
    # A fact written again changes in place while its row stays; one whose entity died and came
    # back (deleted and written again in the window) is a new row.
    in_place = [row for row in delta.facts if row[6] in slots.facts and keep_facts[slots.facts[row[6]]]]
    data = _facts_changed(data, in_place, slots.facts)
    new_mentions = [(passage[p], entity[e]) for p, e in delta.mentions if p in passage and e in entity]
    new_mentions += zip(mention_passages[carried_mentions].tolist(), data.mention_entities[carried_mentions].tolist())
    new_synonyms = [(entity[a], entity[b], w) for a, b, w in delta.synonyms if a in entity and b in entity]
    new_links = [(passage[a], passage[b], w, kind) for a, b, w, kind in delta.links if a in passage and b in passage]
    carried = np.flatnonzero(carried_links).tolist()
    new_links += [(int(link_a[i]), int(link_b[i]), float(data.link_weights[i]), data.link_kinds[i]) for i in carried]
    changed = {row[6] for row in in_place}
    new_facts = [row for row in delta.facts if row[6] not in changed and row[0] in entity and row[1] in entity]
    embedded = [row for row in new_facts if row[3] is not None]
    fact_vectors = appended(
        data.fact_vectors,
        stack_vectors([row[3] for row in embedded], data.passage_vectors.shape[1], [f"fact {r[6]}" for r in embedded]),
    )
    vector_rows = np.cumsum([row[3] is not None for row in new_facts], dtype=np.int64) - 1 + len(data.fact_vectors)
    kept = [int(mask.sum()) for mask in (keep_facts, keep_mentions, keep_synonyms, keep_links)]
    added_counts = [len(new_facts), len(new_mentions), len(new_synonyms), len(new_links)]
    removed = tuple(np.flatnonzero(~mask) for mask in (keep_facts, keep_mentions, keep_synonyms, keep_links))
    added = tuple(np.arange(start, start + count) for start, count in zip(kept, added_counts))
    new = dataclasses.replace(
        data,
        fact_ids=extended(_kept(data.fact_ids, keep_facts), [row[6] for row in new_facts]),
        fact_subjects=_joined(_kept_rows(data.fact_subjects, keep_facts), [entity[row[0]] for row in new_facts]),
        fact_objects=_joined(_kept_rows(data.fact_objects, keep_facts), [entity[row[1]] for row in new_facts]),
        fact_relations=extended(_kept(data.fact_relations, keep_facts), [row[2] for row in new_facts]),
        fact_vector_rows=_joined(
            _kept_rows(data.fact_vector_rows, keep_facts),
            np.where([row[3] is not None for row in new_facts], vector_rows, -1),
        ),
        fact_vectors=fact_vectors,
        fact_valid_from=appended(
            _kept_rows(data.fact_valid_from, keep_facts), np.array([row[4] or "" for row in new_facts], dtype=str)
        ),
        fact_valid_to=appended(
            _kept_rows(data.fact_valid_to, keep_facts), np.array([row[5] or "" for row in new_facts], dtype=str)
        ),
        mention_passages=_joined(_kept_rows(data.mention_passages, keep_mentions), [p for p, _ in new_mentions]),
        mention_entities=_joined(_kept_rows(data.mention_entities, keep_mentions), [e for _, e in new_mentions]),
        synonym_a=_joined(_kept_rows(data.synonym_a, keep_synonyms), [a for a, _, _ in new_synonyms]),
        synonym_b=_joined(_kept_rows(data.synonym_b, keep_synonyms), [b for _, b, _ in new_synonyms]),
        synonym_weights=_joined(
            _kept_rows(data.synonym_weights, keep_synonyms), [w for _, _, w in new_synonyms], np.float64
        ),
        link_a=_joined(_kept_rows(data.link_a, keep_links), [a for a, _, _, _ in new_links]),
        link_b=_joined(_kept_rows(data.link_b, keep_links), [b for _, b, _, _ in new_links]),
        link_weights=_joined(_kept_rows(data.link_weights, keep_links), [w for _, _, w, _ in new_links], np.float64),
        link_kinds=extended(_kept(data.link_kinds, keep_links), [k for *_, k in new_links]),
    )
    if len(removed[0]):
        slots.facts.clear()
        slots.facts.update(zip(new.fact_ids, range(len(new.fact_ids))))
    else:
        slots.facts.update((row[6], kept[0] + offset) for offset, row in enumerate(new_facts))
    return new, removed, added


def _facts_changed(data: GraphData, rows: list, where: dict[str, int]) -> GraphData:
    """`data` with facts it holds written again (`rows`, at rows `where[id]` of the arrays): their
    validity and vector as written now, in copies of the arrays (the old view keeps its own). A
    fact's id names its subject, relation and object, so only validity and vector can change."""
    if not rows:
        return data
    at = [where[row[6]] for row in rows]
    valid_from, valid_to = (
        _writable(values, [row[column] or "" for row in rows])
        for values, column in ((data.fact_valid_from, 4), (data.fact_valid_to, 5))
    )
    valid_from[at] = [row[4] or "" for row in rows]
    valid_to[at] = [row[5] or "" for row in rows]
    vector_rows, vectors = data.fact_vector_rows.copy(), data.fact_vectors
    vector_rows[[row_at for row_at, row in zip(at, rows) if row[3] is None]] = -1  # written again without one
    embedded = [
        (row_at, row)
        for row_at, row in zip(at, rows)
        if row[3] is not None and (vector_rows[row_at] < 0 or vectors[vector_rows[row_at]].tobytes() != row[3])
    ]
    if embedded:
        vector_rows[[row_at for row_at, _ in embedded]] = np.arange(len(vectors), len(vectors) + len(embedded))
        blobs, ids = [row[3] for _, row in embedded], [f"fact {row[6]}" for _, row in embedded]
        vectors = appended(vectors, stack_vectors(blobs, vectors.shape[1], ids))
    return dataclasses.replace(
        data, fact_valid_from=valid_from, fact_valid_to=valid_to, fact_vector_rows=vector_rows, fact_vectors=vectors
    )


def _writable(values: np.ndarray, more: list[str]) -> np.ndarray:
    """A copy of a str array wide enough for `more` too (numpy cuts longer strings short)."""
    width = max([values.dtype.itemsize // 4, 1, *map(len, more)])
    return values.astype(f"<U{width}")


def _codes(keys: set, first: dict[str, int], second: dict[str, int], size: int) -> np.ndarray:
    """Edge keys (first id, second id) whose ends have slots, as first slot * size + second slot."""
    return np.array([first[a] * size + second[b] for a, b in keys if a in first and b in second], dtype=np.int64)


def _kept_rows(values: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """The rows a bool mask keeps (the array itself when it keeps all)."""
    return values if keep.all() else values[keep]


def _kept(values: Sequence, keep: np.ndarray) -> Sequence:
    """The values a bool mask keeps (the sequence itself when it keeps all)."""
    return values if keep.all() else [values[i] for i in np.flatnonzero(keep).tolist()]


def _joined(kept: np.ndarray, added: list, dtype: type = np.int64) -> np.ndarray:
    """`kept` with `added` after it, grown in place where it has room."""
    return appended(kept, np.asarray(added, dtype=dtype))


def _titles(
    view: GraphView,
    data: GraphData,
    entity_index: EntityIndex,
    renamed: set[str],
    dead_passages: list[int],
    new_passages: list[int],
) -> tuple[dict[str, set[int]], dict[int, tuple[int, ...]], tuple[dict, dict]]:
    """The title lookups after the change: the passages whose title may name each key, and the
    entities each passage's title names (again for the passages whose title holds a key whose
    entity changed); and the title edges (passage -> entities) that went and that came."""
    if not view.topic_weight:
        return view.titled, view.topics, ({}, {})
    titled = dict(view.titled)
    for passage, alive in [(p, False) for p in dead_passages] + [(p, True) for p in new_passages]:
        for key in title_keys(data.passage_titles[passage]):
            members = titled[key] = set(titled.get(key, ()))
            (members.add if alive else members.discard)(passage)
            if not members:
                del titled[key]
    again = set(new_passages) | {p for key in renamed for p in titled.get(key, ())}
    topics = dict(view.topics)
    before = {p: topics.pop(p) for p in again | set(dead_passages) if p in topics}
    after = titles_naming(data, entity_index, again)
    topics.update(after)
    went = {p: tuple(e for e in named if e not in after.get(p, ())) for p, named in before.items()}
    came = {p: tuple(e for e in named if e not in before.get(p, ())) for p, named in after.items()}
    return titled, topics, (went, came)
