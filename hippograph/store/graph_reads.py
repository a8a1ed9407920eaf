"""How `RecordStore` reads a namespace's graph for a graph view, over a backend's `Records`: the
whole of it, streamed in bulk (`GraphData`), the records written to it since a view was read
(`GraphDelta`), and the version that tells them apart.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from .base import Records
from .changes import read_changes
from .graph_data import GraphData, GraphDelta, GraphVersion, fact_row
from .stored_vectors import GraphVectors, RecordName, read_vectors

__all__ = ["graph_data", "graph_delta", "graph_version", "namespace_version"]


def namespace_version(records: Records, namespace: str) -> str:
    """The token `changes.log_write` set at the namespace's last write; until a write gives every namespace
    one (a store an older hippograph wrote), the store's version."""
    return records.meta(f"version:{namespace}") or f"store:{records.meta('version') or 0}"


def graph_data(records: Records, namespace: str, passages_only: bool = False, vectors: bool = True) -> GraphData:
    """The namespace's graph (or its passages alone), read in bulk and streamed: the columns a view
    needs, as tuples, a chunk at a time (GraphData.read). Without `vectors`, its passages have
    none (no columns): the store searches them itself."""

    def unless_passages_only(kind: str, fields: tuple[str, ...]) -> Iterable[tuple]:
        return [] if passages_only else records.rows(kind, fields, namespace)

    def read(passage_keys: list, fact_keys: list, name: RecordName) -> GraphVectors:
        if not vectors:
            found = np.ones(len(passage_keys), dtype=bool)
            return GraphVectors(
                np.zeros((len(passage_keys), 0), np.float32), found, np.zeros((0, 0), np.float32), found[:0]
            )
        return read_vectors(_stored_vectors(records, passage_keys, fact_keys), passage_keys, fact_keys, name)

    return GraphData.read(
        graph_version(records, namespace),
        unless_passages_only("entity", ("id", "name")),
        records.rows("passage", ("id", "embedding_key", "title", "created_at"), namespace),
        unless_passages_only(
            "fact", ("subject_id", "object_id", "relation", "embedding_key", "valid_from", "valid_to", "id")
        ),
        unless_passages_only("mention", ("passage_id", "entity_id")),
        unless_passages_only("synonym", ("a", "b", "weight")),
        unless_passages_only("link", ("a", "b", "weight", "kind")),
        read,
    )


def _stored_vectors(records: Records, *key_lists: list) -> Iterable[tuple[str, bytes]]:
    """(key, vector) pairs holding the stored vectors of the keys listed (None: no key): one pass
    over all vectors when those keys are at least half of them (a large namespace: a million
    lookups by key took a minute, the pass seconds), else looked up by key."""
    at_most = sum(len(keys) - keys.count(None) for keys in key_lists)
    if 2 * at_most >= records.count("embedding"):
        return records.rows("embedding", ("key", "vector"))
    wanted = set().union(*key_lists) - {None}
    return ((key, row["vector"]) for key, row in records.get("embedding", wanted).items())


def graph_version(records: Records, namespace: str) -> GraphVersion:
    return GraphVersion(
        namespace_version(records, namespace), records.meta("store_id"), int(records.meta("change_seq") or 0)
    )


def graph_delta(
    records: Records, namespace: str, since: GraphData, passages_only: bool = False, vectors: bool = True
) -> GraphDelta | None:
    """The records (the passages alone, with `passages_only`) the writes to `namespace` after
    `since` touched, as they are now (None when the change log cannot say: build the graph again);
    without `vectors`, passages with empty vectors (b"")."""
    changes = read_changes(records, namespace, since.version.store_id, since.version.change_seq, since.version.token)
    if changes is None:
        return None
    changed = {kind: keys for kind, keys in changes.changed.items() if kind == "passage" or not passages_only}
    found = {kind: records.get(kind, keys) for kind, keys in changed.items()}
    passages = [row for row in found.get("passage", {}).values() if row["namespace"] == namespace]
    facts = [row for row in found.get("fact", {}).values() if row["namespace"] == namespace]
    stored = records.get("embedding", {row["embedding_key"] for row in (passages if vectors else []) + facts})
    vector_of = {key: row["vector"] for key, row in stored.items()}
    if not vectors:
        vector_of.update((row["embedding_key"], b"") for row in passages)
    return GraphDelta(
        GraphVersion(changes.token or since.version.token, since.version.store_id, changes.seq),
        gone={kind: keys - set(found[kind]) | changes.deleted.get(kind, set()) for kind, keys in changed.items()},
        entities=[
            (row["id"], row["name"]) for row in found.get("entity", {}).values() if row["namespace"] == namespace
        ],
        passages=[
            (p["id"], vector_of[p["embedding_key"]], p["title"], p["created_at"])
            for p in passages
            if p["embedding_key"] in vector_of
        ],
        facts=[fact_row(f, vector_of.get(f["embedding_key"])) for f in facts],
        mentions=[(m["passage_id"], m["entity_id"]) for m in found.get("mention", {}).values()],
        synonyms=[(s["a"], s["b"], s["weight"]) for s in found.get("synonym", {}).values()],
        links=[(link["a"], link["b"], link["weight"], link["kind"]) for link in found.get("link", {}).values()],
    )
