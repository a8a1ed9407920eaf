"""Reading the neighbourhood of a query's seeds: the nodes a few hops from them and the edges that
reach them, read through indexed lookups (`Records.find`), never the whole namespace.

A hop follows every edge of the frontier's passages (mentions, note links) and of as many of its
entities (mentions, facts as subject or object, synonyms) as `max_passages` allows: the entities
fewest passages mention first, each followed only if the passages mentioning it fit in what is
left of the budget. PageRank hands each neighbour of an entity 1 / (its degree) of the entity's
mass, so the specific entities carry the walk, and a hub's thousands of passages would cost more
than the rest of the neighbourhood for a sliver each. An entity not followed is still a node,
with the edges that reached it; so are the nodes first reached in the last hop.

The graph comes back as `GraphData` whose passages are ids alone (no title, time or vector, zero
vector columns): the client keeps every passage's (graph/neighbourhood.py), and over a network
they are the costliest thing to read. A client that keeps no passage vector (the store searches
them itself) asks for the neighbourhood's passages whole.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from .base import Records
from .graph_data import GraphData, GraphVersion, fact_row

__all__ = ["read_neighbourhood"]


@dataclass
class _Reached:
    """What the hops read so far."""

    namespace: str
    entities: dict[str, str] = field(default_factory=dict)  # id -> name
    passages: set[str] = field(default_factory=set)
    mentions: set[tuple[str, str]] = field(default_factory=set)
    facts: dict[str, tuple] = field(default_factory=dict)  # id -> GraphData.from_rows' fact row
    synonyms: dict[tuple[str, str], float] = field(default_factory=dict)
    links: dict[tuple[str, str], tuple[float, str]] = field(default_factory=dict)

    def add_entities(self, records: Records, ids: Collection[str]) -> set[str]:
        """Read the entities of `ids` not read yet (in the namespace); the ids that were new."""
        wanted = [i for i in ids if i not in self.entities]
        found = {k: row for k, row in records.get("entity", wanted).items() if row["namespace"] == self.namespace}
        self.entities.update((k, row["name"]) for k, row in found.items())
        return set(found)

    def add_passages(self, ids: Collection[str]) -> set[str]:
        """Note the passages of `ids` not reached yet; those that were new. Nothing is read: a
        passage reached along this namespace's edges is this namespace's, and the client holds its
        title, time and vector."""
        new = set(ids) - self.passages
        self.passages |= new
        return new


def read_neighbourhood(
    records: Records,
    namespace: str,
    version: GraphVersion,
    entity_ids: Collection[str],
    passage_ids: Collection[str],
    hops: int,
    max_passages: int,
    with_passages: bool = False,
) -> tuple[GraphData, dict[str, int]]:
    """The graph within `hops` hops of the seeds (those of them stored in `namespace`), and how
    many passages mention each of its entities (exactly for the seeds; for the others counted up
    to `max_passages` + 1); `with_passages`: its passages with their titles, times and vectors."""
    reached = _Reached(namespace)
    new_entities = reached.add_entities(records, entity_ids)
    new_passages = reached.add_passages(passage_ids)
    counts = records.tally("mention", "entity_id", new_entities)  # exact: a named entity's seed weight is 1 / count
    for _ in range(hops):
        next_entities: set[str] = set()
        next_passages: set[str] = set()
        if new_passages:
            for row in records.find("mention", "passage_id", new_passages):
                reached.mentions.add((row["passage_id"], row["entity_id"]))
                next_entities.add(row["entity_id"])
            next_passages |= _links(records, reached, new_passages)
        counts.update(records.tally("mention", "entity_id", new_entities - counts.keys(), at_most=max_passages + 1))
        expanded = _followed(new_entities, counts, max_passages - len(reached.passages))
        if expanded:
            for row in records.find("mention", "entity_id", expanded):
                reached.mentions.add((row["passage_id"], row["entity_id"]))
                next_passages.add(row["passage_id"])
            next_entities |= _facts(records, reached, expanded) | _synonyms(records, reached, expanded)
        new_entities = reached.add_entities(records, next_entities)
        new_passages = reached.add_passages(next_passages)
    counts.update(records.tally("mention", "entity_id", new_entities, at_most=max_passages + 1))
    return _graph(records, reached, version, with_passages), counts


def _followed(entities: set[str], counts: dict[str, int], room: int) -> set[str]:
    """The entities whose edges a hop follows: fewest passages first, while they fit in `room`."""
    followed = set()
    for entity in sorted(entities, key=lambda e: (counts.get(e, 0), e)):
        room -= counts.get(entity, 0)
        if room < 0:
            break
        followed.add(entity)
    return followed


def _links(records: Records, reached: _Reached, passages: set[str]) -> set[str]:
    ends: set[str] = set()
    for end in ("a", "b"):
        for row in records.find("link", end, passages):
            reached.links[(row["a"], row["b"])] = (row["weight"], row["kind"])
            ends |= {row["a"], row["b"]}
    return ends


def _facts(records: Records, reached: _Reached, entities: set[str]) -> set[str]:
    ends: set[str] = set()
    for end in ("subject_id", "object_id"):
        for row in records.find("fact", end, entities, reached.namespace):
            reached.facts[row["id"]] = fact_row(row, None)  # no vector: fact linking reads the whole graph
            ends |= {row["subject_id"], row["object_id"]}
    return ends


def _synonyms(records: Records, reached: _Reached, entities: set[str]) -> set[str]:
    ends: set[str] = set()
    for end in ("a", "b"):
        for row in records.find("synonym", end, entities):
            reached.synonyms[(row["a"], row["b"])] = row["weight"]
            ends |= {row["a"], row["b"]}
    return ends


def _graph(records: Records, reached: _Reached, version: GraphVersion, with_passages: bool) -> GraphData:
    """The nodes read and the edges among them, in id order as GraphData.from_rows takes them; the
    passages whole (read now) `with_passages`, else ids alone."""
    entities, passages = reached.entities, reached.passages
    rows = [(p, None, "", "") for p in sorted(passages)]
    if with_passages:
        stored = records.get("passage", sorted(passages), ("namespace", "title", "created_at", "embedding_key"))
        vectors = records.get("embedding", {row["embedding_key"] for row in stored.values()})
        passages = {
            p for p, row in stored.items() if row["namespace"] == reached.namespace
        }  # a seed deleted since is not
        rows = [
            (p, vectors.get(row["embedding_key"], {}).get("vector"), row["title"], row["created_at"])
            for p, row in sorted(stored.items())
            if p in passages
        ]
    return GraphData.from_rows(
        version,
        sorted(entities.items()),
        rows,
        [f for _, f in sorted(reached.facts.items()) if f[0] in entities and f[1] in entities],
        sorted((p, e) for p, e in reached.mentions if p in passages and e in entities),
        [(a, b, w) for (a, b), w in sorted(reached.synonyms.items()) if a in entities and b in entities],
        [(a, b, *rest) for (a, b), rest in sorted(reached.links.items()) if a in passages and b in passages],
    )
