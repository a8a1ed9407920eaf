"""The Records primitives (store/base.py) in Cypher: how each record type of the export format is
kept in a graph server as nodes or relationships, read and written one statement at a time,
built only from parameters (`UNWIND $rows`). Neo4jStore (neo4j.py) runs them in its transactions.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from typing import Any

from ..errors import StoreError
from . import bolt_vectors
from .base import KEYS, Key, checked_fields, fields_read, record_key
from .transfer import RECORDS

__all__ = ["CypherRecords", "MissingReferences", "Run", "runner", "store_version"]


class MissingReferences(StoreError):
    """Records to insert name records that are not there. In a write that can run again this is
    a clash of writers in step, like a ConstraintError: under ArcadeDB's isolation a read may see
    an entity another writer just committed that a later MATCH of the same transaction does not
    (tests/store_contract: two writers at once), so the write is run again."""


Run = Callable[..., list[dict]]  # run(query, **parameters) -> the result's records as dicts
_GET_CHUNK = 5000  # records read by key in one statement

# Record types kept as nodes: label and the property that identifies one.
_NODES = {
    "embedding": ("Embedding", "key"),
    "document": ("Document", "uid"),
    "passage": ("Passage", "id"),
    "entity": ("Entity", "id"),
    "fact": ("Fact", "id"),
    "note_change": ("NoteChange", "id"),
}
# Record types kept as relationships: (start label, type, end label, the fields naming the start and
# end nodes' ids, the fields kept on the relationship).
_EDGES = {
    "mention": ("Passage", "MENTIONS", "Entity", "passage_id", "entity_id", ()),
    "fact_source": ("Passage", "STATES", "Fact", "passage_id", "fact_id", ()),
    "synonym": ("Entity", "SYNONYM", "Entity", "a", "b", ("weight",)),
    "link": ("Passage", "LINK", "Passage", "a", "b", ("kind", "reason", "weight", "created_at")),
}


def _pattern(kind: str) -> str:
    start, kind_name, end, *_ = _EDGES[kind]
    return f"(a:{start})-[r:{kind_name}]->(b:{end})"


def _place(kind: str, field: str) -> str:
    """Where a field of a relationship record is: the start node's id, the end node's, or its own."""
    _, _, _, start_id, end_id, _ = _EDGES[kind]
    return {start_id: "a.id", end_id: "b.id"}.get(field, f"r.{field}")


def _key_match(kind: str, key: str) -> str:
    """A WHERE condition matching a relationship record to `key` (a two-item list)."""
    first, second = KEYS[kind]
    return f"{_place(kind, first)} = {key}[0] AND {_place(kind, second)} = {key}[1]"


# How a node record is created: what it is joined to when made.
_CREATE = {
    "passage": "MATCH (d:Document {uid: r.document_uid}) CREATE (d)-[:HAS_PASSAGE]->(n:Passage)",
    "fact": "MATCH (s:Entity {id: r.subject_id}), (o:Entity {id: r.object_id}) "
    "CREATE (s)<-[:SUBJECT]-(n:Fact)-[:OBJECT]->(o)",
    "note_change": "MATCH (p:Passage {id: r.passage_id}) CREATE (n:NoteChange)-[:CHANGES]->(p)",
}


def _uid(namespace: str, document_id: str) -> str:
    """A document's unique key: its namespace and id (a separator no id can hold)."""
    return f"{namespace}\x1f{document_id}"


class CypherRecords:
    """The Records primitives (base.Records) in Cypher, through `run` (one statement each)."""

    def __init__(self, run: Run) -> None:
        self._run = run
        self._inserted_vectors: dict[str, bytes] = {}  # the last embeddings inserted: passages' next

    def _passage_vectors(self, keys: Collection[str]) -> dict[str, list[float]]:
        """The vectors of embedding `keys` as floats (a Passage node keeps its own: bolt_vectors.py)."""
        held = self._inserted_vectors
        missing = [key for key in keys if key not in held]
        stored = {key: row["vector"] for key, row in self.get("embedding", missing).items()} if missing else {}
        return {key: bolt_vectors.floats(blob) for key in keys if (blob := held.get(key) or stored.get(key))}

    def _collected(self, kind: str, match: str, fields: Sequence[str] | None = None, **params) -> list[dict]:
        """The records of `kind` that `match` (a query up to its RETURN) finds, with their fields
        (or `fields` and the key's), sent as one list: the driver spends about 0.1 ms on each
        record a result holds (the 12,000 mentions of a neighbourhood took 330 ms as records, 110
        ms as one list)."""
        names = fields_read(kind, fields)
        rows = self._run(f"{match} RETURN collect([{', '.join(_value(kind, f) for f in names)}]) AS rows", **params)
        return [dict(zip(names, row)) for row in rows[0]["rows"]]

    def get(self, kind: str, keys: Iterable[Key], fields: Sequence[str] | None = None) -> dict[Key, dict]:
        keys = list(dict.fromkeys(keys))
        if kind in _NODES:
            label, prop = _NODES[kind]
            match = f"UNWIND $keys AS k MATCH (n:{label} {{{prop}: k}})"
            sent = [_uid(*key) for key in keys] if kind == "document" else keys
        else:
            match = f"UNWIND $keys AS k MATCH {_pattern(kind)} WHERE {_key_match(kind, 'k')}"
            sent = [list(key) for key in keys]
        rows = []
        for start in range(0, len(sent), _GET_CHUNK):  # one list a chunk: a few MB, even of vectors
            rows += self._collected(kind, match, fields, keys=sent[start : start + _GET_CHUNK])
        return {record_key(kind, row): row for row in rows}

    def find(
        self,
        kind: str,
        field: str | tuple[str, ...],
        values: Collection,
        namespace: str | None = None,
        not_before: tuple[str, str] | None = None,
    ) -> list[dict]:
        checked_fields(kind, field)
        values = list(dict.fromkeys(values))  # a value given twice finds its records once
        if kind == "passage" and field == "document_id" and namespace is not None:  # the indexed property
            field, values = "document_uid", [_uid(namespace, value) for value in values]
        match, namespace_of = _match(kind)
        if isinstance(field, str):
            unwind, where = "", f"{_property(kind, field)} IN $values"
        else:
            unwind = "UNWIND $values AS v "
            where = " AND ".join(f"{_property(kind, name)} = v[{number}]" for number, name in enumerate(field))
            values = [list(value) for value in values]
        bound = ""
        if not_before is not None:
            (bound,) = checked_fields(kind, not_before[0])
            bound = f" AND ({_property(kind, bound)} IS NULL OR {_property(kind, bound)} >= $not_before)"
        return self._collected(
            kind,
            f"{unwind}MATCH {match} WHERE {where}{bound} AND ($ns IS NULL OR {namespace_of} = $ns)",
            values=values,
            ns=namespace,
            not_before=not_before and not_before[1],
        )

    def scan(self, kind: str, namespace: str | None = None) -> Iterator[dict]:
        match, namespace_of = _match(kind)
        order = ", ".join(KEYS[kind])
        return iter(
            self._run(
                f"MATCH {match} WHERE $ns IS NULL OR {namespace_of} = $ns RETURN {_fields(kind)} ORDER BY {order}",
                ns=namespace,
            )
        )

    def rows(self, kind: str, fields: Sequence[str], namespace: str | None = None) -> list[tuple]:
        checked_fields(kind, fields)
        match, namespace_of = _match(kind)
        # aliases of their own: an alias named like a pattern variable ("a" of a link) would hide it
        returned = [f"{_property(kind, name)} AS f{number}" for number, name in enumerate(fields)]
        returned += [f"{_property(kind, key)} AS k{number}" for number, key in enumerate(KEYS[kind])]
        order = ", ".join(f"k{number}" for number in range(len(KEYS[kind])))
        found = self._run(
            f"MATCH {match} WHERE $ns IS NULL OR {namespace_of} = $ns RETURN {', '.join(returned)} ORDER BY {order}",
            ns=namespace,
        )
        return [tuple(row[f"f{number}"] for number in range(len(fields))) for row in found]

    def tally(self, kind: str, field: str, values: Collection, at_most: int | None = None) -> dict:
        checked_fields(kind, field)
        if kind in _EDGES and field in _EDGES[kind][3:5]:  # relationships at a node: its degree
            start, type_, end, start_id, _, _ = _EDGES[kind]
            node, pattern = (start, f"(n)-[:{type_}]->()") if field == start_id else (end, f"(n)<-[:{type_}]-()")
            query = f"UNWIND $values AS v MATCH (n:{node} {{id: v}}) WITH v, COUNT {{ {pattern} }} AS c WHERE c > 0"
        else:
            match, _ = _match(kind)
            held = _property(kind, field)
            query = f"MATCH {match} WHERE {held} IN $values WITH {held} AS v, count(*) AS c"
        counted = self._run(f"{query} RETURN collect([v, c]) AS rows", values=list(values))[0]["rows"]
        return {v: c if at_most is None else min(c, at_most) for v, c in counted}  # the server counted

    def count(self, kind: str, namespace: str | None = None) -> int:
        match, namespace_of = _match(kind)
        return self._run(f"MATCH {match} WHERE $ns IS NULL OR {namespace_of} = $ns RETURN count(*) AS c", ns=namespace)[
            0
        ]["c"]

    def insert(self, kind: str, rows: list[dict]) -> None:
        if not rows:
            return
        if kind == "note_change" and "id" not in rows[0]:  # numbered by the store's counter, one at a time
            for row in rows:
                self._run(
                    "MATCH (m:Meta {key: 'history_id'}) SET m.value = m.value + 1 WITH m "
                    f"UNWIND [$row] AS r {_CREATE[kind]} SET n = r, n.id = m.value",
                    row=_present(row),
                )
            return
        rows = [_present(_stored(kind, row)) for row in rows]
        if kind == "embedding":
            self._inserted_vectors = {row["key"]: row["vector"] for row in rows}
        if kind == "passage":
            vectors = self._passage_vectors({row["embedding_key"] for row in rows if "embedding_key" in row})
            rows = [_present({**row, "vector": vectors.get(row.get("embedding_key"))}) for row in rows]
        if kind in _NODES:
            label = _NODES[kind][0]
            create = _CREATE.get(kind, f"CREATE (n:{label})")
            made = self._run(f"UNWIND $rows AS r {create} SET n = r RETURN count(n) AS c", rows=rows)[0]["c"]
        else:
            start, kind_name, end, start_id, end_id, kept = _EDGES[kind]
            props = ", ".join(f"{field}: r.{field}" for field in kept)
            made = self._run(
                f"UNWIND $rows AS r MATCH (a:{start} {{id: r.{start_id}}}), (b:{end} {{id: r.{end_id}}}) "
                f"CREATE (a)-[e:{kind_name} {{{props}}}]->(b) RETURN count(e) AS c",
                rows=rows,
            )[0]["c"]
        if made != len(rows):
            raise MissingReferences(f"{len(rows) - made} {kind} record(s) name records the store does not hold")
        if kind == "note_change":  # numbered by the export: the counter goes on from the highest
            self._run(
                "MATCH (m:Meta {key: 'history_id'}) SET m.value = CASE WHEN m.value < $top THEN $top ELSE m.value END",
                top=max(row["id"] for row in rows),
            )

    def update(self, kind: str, changes: Mapping[Key, dict]) -> None:
        if not changes:
            return
        if kind == "passage":
            vectors = self._passage_vectors({v["embedding_key"] for v in changes.values() if v.get("embedding_key")})
            changes = {
                key: {**values, "vector": vectors.get(values["embedding_key"])} if "embedding_key" in values else values
                for key, values in changes.items()
            }
        rows = [{"key": _uid(*key) if kind == "document" else key, "values": values} for key, values in changes.items()]
        if kind in _NODES:
            label, prop = _NODES[kind]
            self._run(f"UNWIND $rows AS u MATCH (n:{label} {{{prop}: u.key}}) SET n += u.values", rows=rows)
        else:
            self._run(
                f"UNWIND $rows AS u MATCH {_pattern(kind)} WHERE {_key_match(kind, 'u.key')} SET r += u.values",
                rows=[{**row, "key": list(row["key"])} for row in rows],
            )

    def delete(self, kind: str, keys: Iterable[Key]) -> None:
        keys = list(keys)
        if not keys:
            return
        if kind in _NODES:
            label, prop = _NODES[kind]
            history = "OPTIONAL MATCH (c:NoteChange)-[:CHANGES]->(n) DETACH DELETE c " if kind == "passage" else ""
            self._run(
                f"UNWIND $keys AS k MATCH (n:{label} {{{prop}: k}}) {history}DETACH DELETE n",
                keys=[_uid(*key) for key in keys] if kind == "document" else keys,
            )
        else:
            self._run(
                f"UNWIND $keys AS k MATCH {_pattern(kind)} WHERE {_key_match(kind, 'k')} DELETE r",
                keys=[list(key) for key in keys],
            )

    def matching(self, namespace: str, terms: Sequence[str], limit: int, common: int | None) -> None:
        return None  # no full-text index is kept on the server: the client ranks (graph/lexical_index.py)

    def rare_terms(self, namespace: str, terms: Sequence[str], at_most: int) -> None:
        return None  # as `matching`

    def dated(self, namespace: str) -> list[tuple[str, str]]:
        rows = self._run(
            f"MATCH (n:{_NODES['passage'][0]} {{namespace: $namespace}}) "
            "WHERE n.times IS NOT NULL AND n.times <> '[]' RETURN n.id AS id, n.times AS times",
            namespace=namespace,
        )
        return [(row["id"], row["times"]) for row in rows]

    def meta(self, key: str) -> Any:
        rows = self._run("MATCH (m:Meta {key: $key}) RETURN m.value AS value", key=key)
        return rows[0]["value"] if rows else None

    def set_meta(self, key: str, value: str) -> None:
        self._run("MERGE (m:Meta {key: $key}) SET m.value = $value", key=key, value=value)


def _match(kind: str) -> tuple[str, str]:
    """The pattern of a record type, and the expression of its namespace."""
    if kind in _NODES:
        return f"(n:{_NODES[kind][0]})", "n.namespace"
    return _pattern(kind), "a.namespace"


def _property(kind: str, field: str) -> str:
    """Where a field of a record is in the MATCH pattern of its type (see _match)."""
    return f"n.{field}" if kind in _NODES else _place(kind, field)


# Fields added to a record type after a graph was first written: what one written before holds.
_ADDED_FIELDS = {("passage", "times"): "'[]'"}


def _value(kind: str, field: str) -> str:
    """The expression of a record's field (a field added since: its default where missing)."""
    if (kind, field) in _ADDED_FIELDS:
        return f"coalesce({_property(kind, field)}, {_ADDED_FIELDS[kind, field]})"
    return _property(kind, field)


def _fields(kind: str) -> str:
    """RETURN items giving a record's fields by name."""
    return ", ".join(f"{_value(kind, field)} AS {field}" for field in RECORDS[kind])


def _stored(kind: str, row: dict) -> dict:
    """A row with the properties a node keeps beside its fields (a document's uid, its passages')."""
    if kind == "document":
        return {**row, "uid": _uid(row["namespace"], row["id"])}
    if kind == "passage":
        return {**row, "document_uid": _uid(row["namespace"], row["document_id"])}
    return row


def _present(row: dict) -> dict:
    """A row without its empty fields (a property set to null is no property)."""
    return {name: value for name, value in row.items() if value is not None}


def runner(tx) -> Run:
    # dict(record), not record.data(): every value returned is a property (no node to turn into a
    # dict), and data() walks a vector's bytes one by one (1.5 ms a vector, 60 times the read).
    return lambda query, **params: [dict(record) for record in tx.run(query, params)]


def store_version(tx) -> int:
    return int(tx.run("MATCH (m:Meta {key: 'version'}) RETURN m.value AS v").single()["v"])
