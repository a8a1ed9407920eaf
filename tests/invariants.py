"""What every store must hold after any sequence of writes, crashes or imports, read through the
export format (so the same checks serve the SQLite store and a graph server): no record points at
one that is gone or is left that nothing uses, and a graph server's relationships agree with the
ids they join."""

from __future__ import annotations

import io
import json

from hippograph import Memory
from hippograph.store.neo4j import Neo4jStore

TIME_FIELDS = ("created_at", "updated_at", "valid_from", "valid_to", "changed_at")


def records(memory: Memory) -> list[dict]:
    out = io.StringIO()
    memory.export(out)
    found = [json.loads(line) for line in out.getvalue().splitlines()[1:]]
    for record in found:
        for field in TIME_FIELDS:
            record.pop(field, None)
    return found


def comparable(found: list[dict]) -> list[dict]:
    """Records without what depends on the order of writes: which synonym pairs are found, a
    note's keywords and tags (ranked by how many notes of the namespace share them when it is
    written) and vectors (a text embedded alone differs in the last float bits from the same
    text embedded in a batch)."""
    return [
        {k: v for k, v in r.items() if k not in ("vector", "keywords", "tags")}
        for r in found
        if r["record"] != "synonym"
    ]


def dangling(found: list[dict]) -> list[str]:
    """Records that point at records the store does not hold, or that nothing uses."""
    ids = {kind: set() for kind in ("embedding", "document", "passage", "entity", "fact")}
    for r in found:
        if r["record"] in ids:
            ids[r["record"]].add(
                r["key"]
                if r["record"] == "embedding"
                else (r["namespace"], r["id"])
                if r["record"] == "document"
                else r["id"]
            )
    used_keys = {r.get("embedding_key") for r in found if r["record"] in ("passage", "entity", "fact")}
    mentioned = {r["entity_id"] for r in found if r["record"] == "mention"}
    in_facts = {r[side] for r in found if r["record"] == "fact" for side in ("subject_id", "object_id")}
    stated = {r["fact_id"] for r in found if r["record"] == "fact_source"}
    problems = []
    for r in found:
        kind = r["record"]
        refs = {
            "passage": [
                ("document", (r.get("namespace"), r.get("document_id"))),
                ("embedding", r.get("embedding_key")),
            ],
            "mention": [("passage", r.get("passage_id")), ("entity", r.get("entity_id"))],
            "fact": [
                ("entity", r.get("subject_id")),
                ("entity", r.get("object_id")),
                ("embedding", r.get("embedding_key")),
            ],
            "fact_source": [("fact", r.get("fact_id")), ("passage", r.get("passage_id"))],
            "synonym": [("entity", r.get("a")), ("entity", r.get("b"))],
            "link": [("passage", r.get("a")), ("passage", r.get("b"))],
            "note_change": [("passage", r.get("passage_id"))],
        }.get(kind, [])
        problems += [f"{kind} -> missing {target} {value}" for target, value in refs if value not in ids[target]]
        if kind == "entity" and r["id"] not in mentioned | in_facts:
            problems.append(f"entity {r['id']} nothing refers to")
        if kind == "fact" and r["id"] not in stated:
            problems.append(f"fact {r['id']} no note states")
        if kind == "embedding" and r["key"] not in used_keys:
            problems.append(f"embedding {r['key']} nothing uses")
    return problems


# On a graph server, reads follow relationships while the export reads the ids kept as properties;
# each relationship must join exactly the records those ids name.
EDGE_CHECKS = {
    "passage": "MATCH (p:Passage) WHERE COUNT { (:Document)-[:HAS_PASSAGE]->(p) } <> 1 "
    "OR NOT EXISTS { MATCH (:Document {uid: p.document_uid})-[:HAS_PASSAGE]->(p) } RETURN p.id AS id",
    "fact": "MATCH (f:Fact) WHERE COUNT { (f)-[:SUBJECT]->() } <> 1 OR COUNT { (f)-[:OBJECT]->() } <> 1 "
    "OR NOT EXISTS { MATCH (f)-[:SUBJECT]->(:Entity {id: f.subject_id}) } "
    "OR NOT EXISTS { MATCH (f)-[:OBJECT]->(:Entity {id: f.object_id}) } RETURN f.id AS id",
    "note_change": "MATCH (c:NoteChange) WHERE COUNT { (c)-[:CHANGES]->() } <> 1 "
    "OR NOT EXISTS { MATCH (c)-[:CHANGES]->(:Passage {id: c.passage_id}) } RETURN c.id AS id",
}


def edges_disagreeing(memory: Memory) -> list[str]:
    """Records of a graph server store whose relationships disagree with their ids (none for SQLite)."""
    store = memory._store  # the test looks at the server's relationships themselves
    if not isinstance(store, Neo4jStore):
        return []
    return [f"{kind} {row['id']}" for kind, query in EDGE_CHECKS.items() for row in store._read(query)]
