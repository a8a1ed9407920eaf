"""The write algorithm of every store, written once over a backend's record primitives (`Records`,
see base.py): what an ingest batch adds, what deleting a document cascades to, when a fact holds,
and what an import checks. How a note's changes are recorded and reverted is note_history.py.

Each function runs inside one write transaction the caller opened; an exception rolls all of it
back. Records are the export format's (transfer.RECORDS) with stored values: JSON text for
metadata, keywords, tags and history values, float32 bytes for vectors.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable

import numpy as np

from ..errors import DocumentNotFound, StoreError
from ..time_expressions import stored_times
from ..timestamps import now
from . import note_history
from .base import Records, record_key
from .records import LinkRecord, PassageRecord, WriteBatch
from .rules import OTHER_VERSION_STORED, Touched, ends_of
from .transfer import Record, from_export

__all__ = ["check_embedding_model", "delete_document", "delete_namespace", "load", "write_batch"]

_VECTOR_HOLDERS = ("passage", "entity", "fact")  # the records that name an embedding


def check_embedding_model(records: Records, model: str, where: str) -> None:
    """Record the store's embedding model on its first write; refuse vectors of another."""
    stored = records.meta("embedding_model")
    if stored is None:
        records.set_meta("embedding_model", model)
    elif stored != model:
        raise StoreError(
            f"{where} holds vectors of embedding model {stored!r}, not {model!r}; "
            "open it with the same model or ingest into a new store"
        )


def write_batch(records: Records, batch: WriteBatch) -> list[str]:
    """Apply one ingest batch: replaced documents go first (with all only they supported), then
    every record is added once, evolved attributes are set, and fact validity is worked out again.
    Return the ids of the entities it removed (not those the batch wrote again)."""
    touched, unused = Touched(), set()
    removed: list[str] = []
    for namespace, document_id in batch.replaces:
        removed += _delete_document(records, namespace, document_id, touched, unused)
    stored = [r.passage.id for r in batch.passages if batch.retried or r.passage.id in batch.refreshes]
    if len(records.get("passage", stored)) < len(set(stored)):
        raise StoreError(
            "a note was deleted or replaced while it was extracted again; nothing of this "
            "batch was written, run it again"
        )
    removed += _clear_passages(records, batch.refreshes, touched, unused)
    time = now()
    _add_documents(records, batch, time)
    note_history.record_refreshes(records, [r for r in batch.passages if r.passage.id in set(batch.refreshes)], time)
    before, new_passages = _add_passages(records, batch.passages, batch.embeddings, time)
    unused |= before
    touched.new_facts = _add_graph(records, batch, new_passages)
    note_history.apply_changes(records, batch.changes, time)
    for fact_id, passage_id in batch.fact_sources:
        touched.stated.setdefault(fact_id, set()).add(passage_id)
    _refresh_validity(records, touched)
    _delete_unused_embeddings(records, unused)
    _add_links(records, batch.all_links(), time)  # last: they may still be worked out meanwhile
    still = records.get("entity", removed)
    return [entity for entity in removed if entity not in still]


def delete_document(records: Records, namespace: str, document_id: str) -> list[str]:
    """Delete a document and all only it supported; return the ids of the entities removed."""
    touched, unused = Touched(), set()
    removed = _delete_document(records, namespace, document_id, touched, unused)
    _refresh_validity(records, touched)
    _delete_unused_embeddings(records, unused)
    return removed


def delete_namespace(records: Records, namespace: str) -> int:
    """Delete all a namespace holds; return how many documents it had."""
    unused = {row["embedding_key"] for kind in _VECTOR_HOLDERS for row in records.scan(kind, namespace)}
    documents = [(row["namespace"], row["id"]) for row in records.scan("document", namespace)]
    records.delete("passage", [row["id"] for row in records.scan("passage", namespace)])
    records.delete("document", documents)
    records.delete("fact", [row["id"] for row in records.scan("fact", namespace)])
    records.delete("entity", [row["id"] for row in records.scan("entity", namespace)])
    _delete_unused_embeddings(records, unused - {None})
    return len(documents)


def load(records: Records, model: str | None, exported: Iterable[Record], where: str, batch: int = 1000) -> None:
    """Write exported records into an empty store (StoreError, nothing written, when it is not
    empty or the records do not fit together)."""
    if records.count("document") or records.count("embedding"):
        raise StoreError(f"{where} is not empty; import into a new store")
    if model is not None:
        check_embedding_model(records, model, where)
    kind, pending = None, []
    try:
        for next_kind, values in exported:
            if next_kind != kind or len(pending) >= batch:
                if pending:
                    records.insert(kind, pending)
                kind, pending = next_kind, []
            pending.append(from_export(next_kind, values))
        if pending:
            records.insert(kind, pending)
    except (ValueError, TypeError) as err:
        raise StoreError(f"the export does not fit together ({err}); nothing was imported") from None


# -- the steps -------------------------------------------------------------------


def _delete_document(
    records: Records, namespace: str, document_id: str, touched: Touched, unused: set[str]
) -> list[str]:
    if not records.get("document", [(namespace, document_id)]):
        raise DocumentNotFound(f"no document with id {document_id!r} in namespace {namespace!r}")
    passages = records.find("passage", "document_id", [document_id], namespace)
    passage_ids = [row["id"] for row in passages]
    entity_ids, fact_ids = _graph_records_of(records, passage_ids, touched)
    unused |= {row["embedding_key"] for row in passages}
    records.delete("passage", passage_ids)  # with their mentions, fact sources, links and history
    records.delete("document", [(namespace, document_id)])
    return _delete_unsupported(records, entity_ids, fact_ids, unused)


def _clear_passages(records: Records, passage_ids: list[str], touched: Touched, unused: set[str]) -> list[str]:
    """Remove the mentions, fact sources and links of passages about to get a new text, and the
    facts and entities nothing else supports; return the removed entity ids."""
    if not passage_ids:
        return []
    entity_ids, fact_ids = _graph_records_of(records, passage_ids, touched)
    for kind, fields in (("mention", ("passage_id",)), ("fact_source", ("passage_id",)), ("link", ("a", "b"))):
        for field in fields:
            records.delete(kind, [record_key(kind, row) for row in records.find(kind, field, passage_ids)])
    return _delete_unsupported(records, entity_ids, fact_ids, unused)


def _graph_records_of(records: Records, passage_ids: list[str], touched: Touched) -> tuple[set[str], set[str]]:
    """The entities the passages mention and the facts they state (noted in `touched`, with their
    exclusive groups, before anything is deleted)."""
    entity_ids = {row["entity_id"] for row in records.find("mention", "passage_id", passage_ids)}
    fact_ids = {row["fact_id"] for row in records.find("fact_source", "passage_id", passage_ids)}
    touched.facts |= fact_ids
    touched.add_groups(records.get("fact", fact_ids).values())
    return entity_ids, fact_ids


def _delete_unsupported(records: Records, entity_ids: set[str], fact_ids: set[str], unused: set[str]) -> list[str]:
    """Delete the facts no passage states any more, then the entities nothing refers to; return
    the removed entity ids (their vectors and the facts' join `unused`)."""
    stated = {row["fact_id"] for row in records.find("fact_source", "fact_id", fact_ids)}
    facts = records.get("fact", fact_ids - stated)
    unused |= {row["embedding_key"] for row in facts.values()}
    records.delete("fact", list(facts))
    referred = {row["entity_id"] for row in records.find("mention", "entity_id", entity_ids)}
    for side in ("subject_id", "object_id"):
        referred |= {row[side] for row in records.find("fact", side, entity_ids)}
    gone = records.get("entity", sorted(entity_ids - referred))
    unused |= {row["embedding_key"] for row in gone.values() if row["embedding_key"]}
    records.delete("entity", list(gone))
    return list(gone)


def _add_documents(records: Records, batch: WriteBatch, time: str) -> None:
    new = {(d.namespace, d.id): (d, digest) for d, digest in reversed(batch.documents)}  # the first of each id
    stored = records.get("document", list(new))
    if any(stored[key]["content_hash"] != digest for key, (_, digest) in new.items() if key in stored):
        raise StoreError(OTHER_VERSION_STORED)
    records.insert(
        "document",
        [  # the same document stored by another writer meanwhile: a no-op
            {
                "namespace": d.namespace,
                "id": d.id,
                "title": d.title,
                "source": d.source,
                "metadata": json.dumps(d.metadata, sort_keys=True),
                "content_hash": digest,
                "created_at": time,
            }
            for key, (d, digest) in new.items()
            if key not in stored
        ],
    )
    records.update(
        "document",
        {
            (d.namespace, d.id): {
                "title": d.title,
                "metadata": json.dumps(d.metadata, sort_keys=True),
                "content_hash": digest,
            }
            for d, digest in batch.document_updates
        },
    )


def _add_passages(
    records: Records, passages: list[PassageRecord], embeddings: dict[str, np.ndarray], time: str
) -> tuple[set[str], set[str]]:
    """Store new vectors and passages; a passage written again keeps its time and gets the rest
    (see WriteBatch). Return the vector keys the rewritten passages held before, and the ids of
    the passages this write inserted."""
    known = records.get("embedding", list(embeddings), ())  # whether each is stored, not its bytes
    records.insert(
        "embedding",
        [
            {"key": key, "vector": np.asarray(vector, dtype=np.float32).tobytes()}
            for key, vector in embeddings.items()
            if key not in known
        ],
    )
    stored = records.get("passage", [r.passage.id for r in passages], ("embedding_key",))
    rows = [_passage_row(r, time) for r in passages]
    new = [row for row in rows if row["id"] not in stored]
    records.insert("passage", new)
    kept = ("id", "namespace", "document_id", "position", "created_at", "updated_at")
    records.update(
        "passage", {row["id"]: {k: v for k, v in row.items() if k not in kept} for row in rows if row["id"] in stored}
    )
    return {row["embedding_key"] for row in stored.values()}, {row["id"] for row in new}


def _add_graph(records: Records, batch: WriteBatch, new_passages: set[str]) -> set[str]:
    """Entities, mentions, facts, their sources and synonymy edges, each stored once
    (`new_passages`: those this write inserted, whose mentions and fact sources cannot be stored
    yet). Return the ids of the facts it inserted."""
    new: dict[str, dict] = {}  # an entity named twice keeps its first name and the first vector key given
    for e in batch.entities:
        row = new.setdefault(
            e.id, {"id": e.id, "namespace": e.namespace, "key": e.key, "name": e.name, "embedding_key": e.embedding_key}
        )
        row["embedding_key"] = row["embedding_key"] or e.embedding_key
    entities = records.get("entity", list(new))
    records.insert("entity", [row for entity_id, row in new.items() if entity_id not in entities])
    records.update(
        "entity",
        {
            entity_id: {"embedding_key": row["embedding_key"]}
            for entity_id, row in new.items()
            if entity_id in entities and entities[entity_id]["embedding_key"] is None and row["embedding_key"]
        },
    )  # a stored entity gains a vector
    _insert_new(records, "mention", [{"passage_id": p, "entity_id": e} for p, e in batch.mentions], new_passages)
    new_facts = _insert_new(
        records,
        "fact",
        [
            {
                "id": f.id,
                "namespace": f.namespace,
                "subject_id": f.subject_id,
                "relation": f.relation,
                "object_id": f.object_id,
                "embedding_key": f.embedding_key,
                "relation_group": f.relation_group,
                "valid_from": None,
                "valid_to": None,
            }
            for f in batch.facts
        ],
    )
    _insert_new(records, "fact_source", [{"fact_id": f, "passage_id": p} for f, p in batch.fact_sources], new_passages)
    present = records.get("entity", {e for a, b, _ in batch.synonyms for e in (a, b)})
    _insert_new(
        records,
        "synonym",
        [{"a": a, "b": b, "weight": weight} for a, b, weight in batch.synonyms if a in present and b in present],
    )  # not to an entity a replace took away
    return set(new_facts)


def _add_links(records: Records, batch_links: list[LinkRecord], time: str) -> None:
    """Links between stored notes of one namespace; a pair stored already takes the new kind,
    reason and weight."""
    notes = records.get("passage", {p for link in batch_links for p in (link.a, link.b)}, ("namespace",))
    links = list(
        {
            (link.a, link.b): link
            for link in batch_links  # the last of each pair
            if link.a in notes and link.b in notes
        }.values()
    )  # nor to a note a replace took away
    if any(notes[link.a]["namespace"] != notes[link.b]["namespace"] for link in links):
        raise StoreError("a link must join two notes of one namespace")
    stored = records.get("link", [(link.a, link.b) for link in links])
    records.insert(
        "link",
        [
            {
                "a": link.a,
                "b": link.b,
                "kind": link.kind,
                "reason": link.reason,
                "weight": link.weight,
                "created_at": time,
            }
            for link in links
            if (link.a, link.b) not in stored
        ],
    )
    records.update(
        "link",
        {
            (link.a, link.b): {"kind": link.kind, "reason": link.reason, "weight": link.weight}
            for link in links
            if (link.a, link.b) in stored
        },
    )


def _insert_new(records: Records, kind: str, rows: list[dict], new_passages: Collection[str] = ()) -> list:
    """Insert the rows whose key is not stored yet (each once); return their keys. A row of a
    passage in `new_passages` cannot be stored: it is not looked up (a batch of new notes reads
    no mention)."""
    unique = {record_key(kind, row): row for row in rows}
    unknown = [key for key, row in unique.items() if row.get("passage_id") not in new_passages]
    stored = records.get(kind, unknown, ())  # the keys alone: SQLite reads them from the key's index
    new = [key for key in unique if key not in stored]
    records.insert(kind, [unique[key] for key in new])
    return new


def _refresh_validity(records: Records, touched: Touched) -> None:
    """Work out again when the touched facts (and the exclusive facts that share a subject and
    relation group with them) hold: from the earliest note stating one, until a later fact of its
    group names another object.

    Of a group, only the facts still valid at the earliest touched time t can change (a fact that
    ended before t ended at a fact that started before t, which this write left alone), and the
    facts that decide their ends are among them: those are read, not the whole group."""
    facts = records.get("fact", touched.facts | set(touched.stated))
    # A fact that only gained sources starts at its stored start or a new source's; the others
    # (and one stored without a start: new, or imported so) start at the earliest of all theirs.
    earliest = {fid: row["valid_from"] for fid, row in facts.items() if fid not in touched.facts and row["valid_from"]}
    again = [fid for fid in facts if fid not in earliest]
    # a fact this write inserted has no sources but the ones it gained: they are not read again
    looked_up = [fid for fid in again if fid not in touched.new_facts]
    sources = [(row["fact_id"], row["passage_id"]) for row in records.find("fact_source", "fact_id", looked_up)]
    sources += [(fid, pid) for fid in again if fid in touched.new_facts for pid in touched.stated[fid]]
    sources += [(fid, pid) for fid in earliest for pid in touched.stated[fid]]
    passages = records.get("passage", {pid for _, pid in sources}, ("created_at",))
    for fid, pid in sources:
        time = passages[pid]["created_at"]
        earliest[fid] = min(earliest.get(fid, time), time)
    # where the facts that moved start now (one that lost a source was noted where it started before)
    moved = {fid: row for fid, row in facts.items() if row["valid_from"] != earliest.get(fid)}
    touched.add_groups({**row, "valid_from": earliest.get(fid)} for fid, row in moved.items())
    records.update("fact", {fid: {"valid_from": earliest.get(fid)} for fid in moved})
    if not touched.groups:
        return
    since = min(touched.groups.values())
    members = records.find("fact", ("subject_id", "relation_group"), touched.groups, not_before=("valid_to", since))
    by_group: dict[tuple[str, str], list[dict]] = {}
    for row in sorted(members, key=lambda r: (r["valid_from"] or "", r["id"])):
        by_group.setdefault((row["subject_id"], row["relation_group"]), []).append(row)
    ends: dict[str, str | None] = {}
    for rows in by_group.values():
        ends.update(ends_of([(r["id"], r["object_id"], r["valid_from"]) for r in rows]))
    records.update("fact", {r["id"]: {"valid_to": ends[r["id"]]} for r in members if r["valid_to"] != ends[r["id"]]})


def _delete_unused_embeddings(records: Records, candidates: set[str]) -> None:
    """Delete the vectors among `candidates` that no passage, entity or fact names any more."""
    candidates = candidates - {None}
    used = {row["embedding_key"] for kind in _VECTOR_HOLDERS for row in records.find(kind, "embedding_key", candidates)}
    records.delete("embedding", sorted(candidates - used))


def _passage_row(record: PassageRecord, time: str) -> dict:
    p, a = record.passage, record.attributes
    return {
        "id": p.id,
        "namespace": p.namespace,
        "document_id": p.document_id,
        "position": p.position,
        "title": p.title,
        "text": p.text,
        "embedding_key": record.embedding_key,
        "extractor": record.extractor,
        "created_at": p.time or time,
        "extraction_error": record.error,
        "keywords": json.dumps(a.keywords),
        "tags": json.dumps(a.tags),
        "context": a.context,
        "updated_at": None,
        "times": stored_times(p.text, p.time),  # against the time it was given, or, updated, its stored time
    }
