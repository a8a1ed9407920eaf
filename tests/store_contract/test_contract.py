"""One contract for every store: the same operations on the SQLite store and on a graph server
(a real Bolt server, ArcadeDB, see tests/bolt_server.py) leave the same records (time fields
aside) and give the same answers, and no record ever points at one that is gone."""

from __future__ import annotations

import io
import json
import threading

import pytest

import hippograph
from hippograph import Config, Document, Memory
from hippograph.sources import read_sources
from hippograph.store.neo4j import Neo4jStore

from ..conftest import EVERY_RECORD

TIME_FIELDS = ("created_at", "updated_at", "valid_from", "valid_to", "changed_at")
QUESTIONS = ["Where was the founder of Brightwater Labs born?", "Who is Ida Marsh married to?"]
NOTES = Config(synonym_threshold=0.8, fact_weight=0.1, evolve_notes=True, link_threshold=0.6)


@pytest.fixture(params=["sqlite", "bolt"])
def open_memory(request, tmp_path, embedder, extractor):
    """Opens (and reopens, by name) a Memory on a store of the kind under test; closed after
    the test unless `keep=False` (for a memory used and closed in another thread)."""
    server = request.getfixturevalue("bolt_server") if request.param == "bolt" else None
    databases: dict[str, str] = {}
    opened: list[Memory] = []

    def open_(name: str = "store", config: Config = EVERY_RECORD, keep: bool = True) -> Memory:
        if server is None:
            memory = Memory(tmp_path / name, config, embedder=embedder, extractor=extractor)
        else:
            if name not in databases:
                databases[name] = server.new_database()
            store = Neo4jStore(server.uri, server.auth, databases[name])
            memory = Memory(config=config, store=store, embedder=embedder, extractor=extractor)
        if keep:
            opened.append(memory)
        return memory

    yield open_
    for memory in opened:
        memory.close()


@pytest.fixture
def reference(tmp_path, embedder, extractor):
    def open_(config: Config = EVERY_RECORD) -> Memory:
        return Memory(tmp_path / "reference", config, embedder=embedder, extractor=extractor)
    return open_


def records(memory: Memory) -> list[dict]:
    out = io.StringIO()
    memory.export(out)
    found = [json.loads(line) for line in out.getvalue().splitlines()[1:]]
    for record in found:
        for field in TIME_FIELDS:
            record.pop(field, None)
    return found


def answers(memory: Memory, namespace: str | None = None) -> list:
    return [[(h.id, round(h.score, 9)) for h in memory.query(q, k=10, method=m, namespace=namespace)]
            for q in QUESTIONS for m in ("hippograph", "dense")]


def comparable(found: list[dict]) -> list[dict]:
    """Records without what depends on the order of writes: which synonym pairs are found, a
    note's keywords and tags (ranked by how many notes of the namespace share them when it is
    written) and vectors (a text embedded alone differs in the last float bits from the same
    text embedded in a batch)."""
    return [{k: v for k, v in r.items() if k not in ("vector", "keywords", "tags")}
            for r in found if r["record"] != "synonym"]


def dangling(found: list[dict]) -> list[str]:
    """Records that point at records the store does not hold, or that nothing uses."""
    ids = {kind: set() for kind in ("embedding", "document", "passage", "entity", "fact")}
    for r in found:
        if r["record"] in ids:
            ids[r["record"]].add(r["key"] if r["record"] == "embedding" else
                                 (r["namespace"], r["id"]) if r["record"] == "document" else r["id"])
    used_keys = {r.get("embedding_key") for r in found if r["record"] in ("passage", "entity", "fact")}
    mentioned = {r["entity_id"] for r in found if r["record"] == "mention"}
    in_facts = {r[side] for r in found if r["record"] == "fact" for side in ("subject_id", "object_id")}
    stated = {r["fact_id"] for r in found if r["record"] == "fact_source"}
    problems = []
    for r in found:
        kind = r["record"]
        refs = {"passage": [("document", (r.get("namespace"), r.get("document_id"))), ("embedding", r.get("embedding_key"))],
                "mention": [("passage", r.get("passage_id")), ("entity", r.get("entity_id"))],
                "fact": [("entity", r.get("subject_id")), ("entity", r.get("object_id")), ("embedding", r.get("embedding_key"))],
                "fact_source": [("fact", r.get("fact_id")), ("passage", r.get("passage_id"))],
                "synonym": [("entity", r.get("a")), ("entity", r.get("b"))],
                "link": [("passage", r.get("a")), ("passage", r.get("b"))],
                "note_change": [("passage", r.get("passage_id"))]}.get(kind, [])
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


def corpus_changes(memory: Memory) -> None:
    """Ingest the sample corpus, again unchanged, then replace one document and delete another;
    then replace a document with one naming the same entity, and add a synonym of it."""
    corpus = read_sources(hippograph.sample_corpus())
    memory.ingest(corpus, progress=False)
    memory.ingest(corpus, progress=False)
    memory.ingest(Document("Mira Holt retired to Saltmarsh, where she restores boats with Arvid Koss.", id="sample-02",
                           title="Mira Holt"), progress=False)
    memory.delete("sample-18")
    # A replacement naming the same new entity: it stays known, so a later synonym still finds it.
    memory.ingest(Document("Ida Marsh founded Kessel Boat Works in Veloria.", id="yard", title="Ida Marsh"), progress=False)
    memory.ingest(Document("Ida Marsh founded Kessel Boat Works in Saltmarsh.", id="yard", title="Ida Marsh"),
                  progress=False)
    memory.ingest(Document("Arvid Koss joined Kessel Boatworks in 1990.", id="yard-2", title="Arvid Koss"), progress=False)


def notes_changes(memory: Memory) -> None:
    """Notes in three namespaces with links, evolution, an update, a revert, then one namespace
    deleted (with the vectors only it used)."""
    for namespace in ("a", "b", "c"):
        first = memory.add("Mira Holt founded Brightwater Labs in Veloria.", namespace=namespace, timestamp="2024-01-01")
        memory.add("Mira Holt lives in Veloria and works at Brightwater Labs.", namespace=namespace, timestamp="2024-01-02")
        memory.add("Mira Holt moved to Saltmarsh. Mira Holt lives in Saltmarsh now.", namespace=namespace, timestamp="2024-02-01")
        memory.add(f"Arvid Koss keeps the ledger of {namespace}.", namespace=namespace,  # vectors of its own
                   timestamp="2024-02-02")
        memory.update(first.id, "Mira Holt founded Brightwater Labs in Veloria in 1990.", namespace=namespace)
        changes = [c for c in memory.history(first.id, namespace=namespace) if c.field != "text"]
        assert changes, "the update and evolution changed attributes"
        memory.revert(changes[-1].id, namespace=namespace)
    memory.delete_namespace("c")


def test_corpus_ingest_replace_and_delete_match_the_sqlite_store(open_memory, reference):
    memory = open_memory()
    corpus_changes(memory)
    with reference() as expected:
        corpus_changes(expected)
        assert records(memory) == records(expected)
        assert answers(memory) == answers(expected)
        assert memory.stats().__dict__ | {"path": "", "size_bytes": 0} == \
            expected.stats().__dict__ | {"path": "", "size_bytes": 0}
    assert dangling(records(memory)) == [] and edges_disagreeing(memory) == []


def test_notes_namespaces_and_history_match_the_sqlite_store(open_memory, reference):
    memory = open_memory(config=NOTES)
    notes_changes(memory)
    with reference(NOTES) as expected:
        notes_changes(expected)
        assert records(memory) == records(expected)
        for namespace in ("a", "b"):
            assert answers(memory, namespace) == answers(expected, namespace)
            for as_of in ("2024-01-15", "2024-03-01"):  # before and after she moved (a fact ended)
                assert memory.facts("Mira Holt", namespace=namespace, as_of=as_of) == \
                    expected.facts("Mira Holt", namespace=namespace, as_of=as_of)
        assert memory.namespaces() == expected.namespaces() == ["a", "b"]
    assert dangling(records(memory)) == [] and edges_disagreeing(memory) == []


def test_reopened_and_imported_stores_hold_the_same(open_memory, tmp_path):
    memory = open_memory()
    memory.ingest(hippograph.sample_corpus(), progress=False)
    before, asked = records(memory), answers(memory)
    memory.close()
    again = open_memory()
    assert records(again) == before and answers(again) == asked
    again.export(tmp_path / "memory.jsonl")
    copy = open_memory("copy")
    copy.import_export(tmp_path / "memory.jsonl")
    assert records(copy) == before and answers(copy) == asked


def test_two_writers_at_once_store_every_record_once(open_memory, reference):
    """Two writers ingest overlapping parts of the corpus at the same time, a document a
    transaction: both finish, and the store holds every record once, as one writer alone
    stores them (see `comparable` for what depends on the order of writes)."""
    open_memory().close()  # the store exists before the writers start
    documents = list(read_sources(hippograph.sample_corpus()))
    parts, failures = (documents[:24], documents[:11:-1]), []  # they meet in the middle: 12 documents both write
    start = threading.Barrier(len(parts))

    def write(part) -> None:
        try:
            with open_memory(keep=False) as memory:
                start.wait()
                for document in part:
                    memory.ingest([document], progress=False)
        except Exception as err:  # noqa: BLE001 (reported by the assertion below)
            failures.append(err)

    writers = [threading.Thread(target=write, args=(part,)) for part in parts]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    assert failures == []
    memory = open_memory()
    with reference() as expected:
        expected.ingest(documents, progress=False)
        assert comparable(records(memory)) == comparable(records(expected))
    assert dangling(records(memory)) == [] and edges_disagreeing(memory) == []
