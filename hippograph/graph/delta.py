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
from dataclasses import dataclass

import numpy as np

from ..growing import appended
from ..store.graph_data import GraphData, GraphDelta, stack_vectors
from .adjacency import MAX_DELTA_SHARE
from .linking import EntityIndex, title_keys
from .view import GraphView, edges, fact_relations, titles_naming

__all__ = ["Slots", "updated"]


@dataclass
class Slots:
    """Where each live node of a view is: store id -> slot (entity index, passage index)."""

    entities: dict[str, int]
    passages: dict[str, int]

    @classmethod
    def of(cls, data: GraphData) -> Slots:
        return cls(
            {entity: i for i, entity in enumerate(data.entity_ids) if data.entity_alive[i]},
            {passage: i for i, passage in enumerate(data.passage_ids) if data.passage_alive[i]},
        )


def updated(view: GraphView, delta: GraphDelta, slots: Slots) -> GraphView | None:
    """`view` with `delta` applied; `slots` (the view's) are changed to the new view's. None
    when a new view must be built instead: no room left for new entities, or a first vector
    (the view has no size for it yet). The old view is left as it was: a query running on it
    meanwhile is unaffected."""
    data = view.data
    dimension = data.passage_vectors.shape[1]
    if delta.passages and (dimension == 0 or any(len(row[1]) != 4 * dimension for row in delta.passages)):
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
    new, removed, added = _with_edges(nodes, delta, slots, moved)
    new = dataclasses.replace(new, version=delta.version, in_store_order=False)
    entity_index, renamed = view.entity_index.updated(
        new.entity_ids,
        [(e, data.entity_names[e]) for e in dead_entities],
        [(slots.entities[entity], name) for entity, name in new_entities],
    )
    titled, topics, topic_change = _titles(
        view, new, entity_index, renamed, dead_passages + list(moved), [slots.passages[r[0]] for r in new_passages]
    )
    touched = set(zip(data.fact_subjects[removed[0]].tolist(), data.fact_objects[removed[0]].tolist()))
    touched |= set(zip(new.fact_subjects[added[0]].tolist(), new.fact_objects[added[0]].tolist()))
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
    return GraphView.assemble(
        new, entity_index, _relations(view, new, touched), topics, titled, *weights, adjacency=adjacency
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
    first = len(data.entity_ids) - data.entity_room
    taken = slice(first, first + len(entities))
    entity_ids, entity_names, entity_alive = list(data.entity_ids), list(data.entity_names), data.entity_alive.copy()
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
        passage_ids=data.passage_ids + [row[0] for row in passages],
        passage_titles=data.passage_titles + [row[2] for row in passages],
        passage_times=np.concatenate([data.passage_times, np.array([row[3] for row in passages], dtype=str)]),
        passage_vectors=appended(data.passage_vectors, vectors),
        passage_alive=passage_alive,
    )


def _with_edges(
    data: GraphData, delta: GraphDelta, slots: Slots, moved: dict[int, int]
) -> tuple[GraphData, tuple[np.ndarray, ...], tuple[np.ndarray, ...]]:
    """`data` without the edges of dead nodes and the edges the delta deleted or wrote again,
    and with the edges it wrote whose ends are nodes of the view; the edges of passages that
    `moved` (old slot -> new slot) go with them. Also the rows (facts, mentions, synonyms,
    links) of the edges removed, in `data`'s arrays, and of those added, in the new arrays."""
    entity_alive, passage_alive = data.entity_alive, data.passage_alive
    entity, passage = slots.entities, slots.passages
    size = max(len(entity_alive), len(passage_alive), 1)
    to = np.arange(len(passage_alive))  # where each passage slot's edges go
    to[list(moved)] = list(moved.values())

    def out(kind: str, rows: list, first: dict[str, int], second: dict[str, int]) -> np.ndarray:
        return _codes(delta.gone.get(kind, set()) | {row[:2] for row in rows}, first, second, size)

    mention_passages = to[data.mention_passages]
    staying = passage_alive[mention_passages] & entity_alive[data.mention_entities]
    staying &= ~np.isin(
        mention_passages * size + data.mention_entities, out("mention", delta.mentions, passage, entity)
    )
    keep_mentions, carried_mentions = (
        staying & (mention_passages == data.mention_passages),
        staying & (mention_passages != data.mention_passages),
    )
    keep_synonyms = entity_alive[data.synonym_a] & entity_alive[data.synonym_b]
    keep_synonyms &= ~np.isin(data.synonym_a * size + data.synonym_b, out("synonym", delta.synonyms, entity, entity))
    link_a, link_b = to[data.link_a], to[data.link_b]
    staying = passage_alive[link_a] & passage_alive[link_b]
    staying &= ~np.isin(link_a * size + link_b, out("link", delta.links, passage, passage))
    stays = (link_a == data.link_a) & (link_b == data.link_b)
    keep_links, carried_links = staying & stays, staying & ~stays
    facts_out = delta.gone.get("fact", set()) | {row[6] for row in delta.facts}
    keep_facts = entity_alive[data.fact_subjects] & entity_alive[data.fact_objects]
    if facts_out:
        keep_facts &= np.array([f not in facts_out for f in data.fact_ids], dtype=bool)
    new_mentions = [(passage[p], entity[e]) for p, e in delta.mentions if p in passage and e in entity]
    new_mentions += zip(mention_passages[carried_mentions].tolist(), data.mention_entities[carried_mentions].tolist())
    new_synonyms = [(entity[a], entity[b], w) for a, b, w in delta.synonyms if a in entity and b in entity]
    new_links = [(passage[a], passage[b], w, kind) for a, b, w, kind in delta.links if a in passage and b in passage]
    carried = np.flatnonzero(carried_links).tolist()
    new_links += [(int(link_a[i]), int(link_b[i]), float(data.link_weights[i]), data.link_kinds[i]) for i in carried]
    new_facts = [row for row in delta.facts if row[0] in entity and row[1] in entity]
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
        fact_ids=_kept(data.fact_ids, keep_facts) + [row[6] for row in new_facts],
        fact_subjects=_joined(data.fact_subjects[keep_facts], [entity[row[0]] for row in new_facts]),
        fact_objects=_joined(data.fact_objects[keep_facts], [entity[row[1]] for row in new_facts]),
        fact_relations=_kept(data.fact_relations, keep_facts) + [row[2] for row in new_facts],
        fact_vector_rows=_joined(
            data.fact_vector_rows[keep_facts], np.where([row[3] is not None for row in new_facts], vector_rows, -1)
        ),
        fact_vectors=fact_vectors,
        fact_valid_from=np.concatenate(
            [data.fact_valid_from[keep_facts], np.array([row[4] or "" for row in new_facts], dtype=str)]
        ),
        fact_valid_to=np.concatenate(
            [data.fact_valid_to[keep_facts], np.array([row[5] or "" for row in new_facts], dtype=str)]
        ),
        mention_passages=_joined(data.mention_passages[keep_mentions], [p for p, _ in new_mentions]),
        mention_entities=_joined(data.mention_entities[keep_mentions], [e for _, e in new_mentions]),
        synonym_a=_joined(data.synonym_a[keep_synonyms], [a for a, _, _ in new_synonyms]),
        synonym_b=_joined(data.synonym_b[keep_synonyms], [b for _, b, _ in new_synonyms]),
        synonym_weights=_joined(data.synonym_weights[keep_synonyms], [w for _, _, w in new_synonyms], np.float64),
        link_a=_joined(data.link_a[keep_links], [a for a, _, _, _ in new_links]),
        link_b=_joined(data.link_b[keep_links], [b for _, b, _, _ in new_links]),
        link_weights=_joined(data.link_weights[keep_links], [w for _, _, w, _ in new_links], np.float64),
        link_kinds=_kept(data.link_kinds, keep_links) + [k for *_, k in new_links],
    )
    return new, removed, added


def _codes(keys: set, first: dict[str, int], second: dict[str, int], size: int) -> np.ndarray:
    """Edge keys (first id, second id) whose ends have slots, as first slot * size + second slot."""
    return np.array([first[a] * size + second[b] for a, b in keys if a in first and b in second], dtype=np.int64)


def _kept(values: list, keep: np.ndarray) -> list:
    """The values a bool mask keeps (a copy of all of them, fast, when it keeps all)."""
    return list(values) if keep.all() else [values[i] for i in np.flatnonzero(keep).tolist()]


def _joined(kept: np.ndarray, added: list, dtype: type = np.int64) -> np.ndarray:
    return np.concatenate([kept, np.asarray(added, dtype=dtype)]) if len(added) else kept


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


def _relations(view: GraphView, data: GraphData, touched: set[tuple[int, int]]) -> dict[tuple[int, int], str]:
    """The relation lookup after the change: the (subject, object) pairs `touched` by facts that
    came or went are looked up again among the facts joining them now."""
    if not touched:
        return view.relations
    touched |= {(o, s) for s, o in touched}
    relations = dict(view.relations)
    for pair in touched:
        relations.pop(pair, None)
    size = max(len(data.entity_ids), 1)
    keys = np.array([s * size + o for s, o in touched], dtype=np.int64)
    joining = np.flatnonzero(np.isin(data.fact_subjects * size + data.fact_objects, keys))
    relations.update(fact_relations(data, joining.tolist()))
    return relations
