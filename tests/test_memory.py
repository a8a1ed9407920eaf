"""Store behaviour through the public API, checked on the real SQLite file."""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

import numpy as np
import pytest

import hippograph
from hippograph import Document, DocumentNotFound, Memory, QueryError, SourceError, StoreError
from hippograph.extract import PrecomputedExtractor
from hippograph.store import writes
from hippograph.store.sqlite import STORE_FILE

from .conftest import EVERY_RECORD, write_jsonl

ORPHAN_QUERIES = {
    "passage without document": "SELECT COUNT(*) FROM passages p WHERE NOT EXISTS "
    "(SELECT 1 FROM documents d WHERE d.namespace = p.namespace AND d.id = p.document_id)",
    "entity nobody mentions": "SELECT COUNT(*) FROM entities e WHERE NOT EXISTS "
    "(SELECT 1 FROM mentions m WHERE m.entity_id = e.id)",
    "fact without source passage": "SELECT COUNT(*) FROM facts f WHERE NOT EXISTS "
    "(SELECT 1 FROM fact_sources s WHERE s.fact_id = f.id)",
    "fact source to missing passage": "SELECT COUNT(*) FROM fact_sources s WHERE NOT EXISTS "
    "(SELECT 1 FROM passages p WHERE p.id = s.passage_id)",
    "mention of missing passage or entity": "SELECT COUNT(*) FROM mentions m WHERE NOT EXISTS "
    "(SELECT 1 FROM passages p WHERE p.id = m.passage_id) "
    "OR NOT EXISTS (SELECT 1 FROM entities e WHERE e.id = m.entity_id)",
    "fact to missing entity": "SELECT COUNT(*) FROM facts f "
    "WHERE NOT EXISTS (SELECT 1 FROM entities e WHERE e.id = f.subject_id) "
    "OR NOT EXISTS (SELECT 1 FROM entities e WHERE e.id = f.object_id)",
    "synonym edge to missing entity": "SELECT COUNT(*) FROM synonyms s "
    "WHERE NOT EXISTS (SELECT 1 FROM entities e WHERE e.id = s.a) "
    "OR NOT EXISTS (SELECT 1 FROM entities e WHERE e.id = s.b)",
    "unused embedding": "SELECT COUNT(*) FROM embeddings v WHERE v.key NOT IN (SELECT embedding_key FROM passages) "
    "AND v.key NOT IN (SELECT embedding_key FROM entities WHERE embedding_key IS NOT NULL) "
    "AND v.key NOT IN (SELECT embedding_key FROM facts)",
}


def sql(memory: Memory, query: str, *params) -> list[tuple]:
    with sqlite3.connect(memory.stats().path) as db:
        return db.execute(query, params).fetchall()


def orphans(memory: Memory) -> dict[str, int]:
    return {name: sql(memory, q)[0][0] for name, q in ORPHAN_QUERIES.items() if sql(memory, q)[0][0]}


def test_sample_ingest_builds_a_graph_with_no_orphans(sample_memory):
    stats = sample_memory.stats()
    assert stats.documents == stats.passages == 36
    assert stats.entities > 100 and stats.facts > 50 and stats.mentions > stats.passages
    assert orphans(sample_memory) == {}
    assert Path(stats.path).name == STORE_FILE


def test_reingesting_the_same_documents_changes_nothing(sample_memory):
    before = sample_memory.stats()
    version = sample_memory._store.version()
    report = sample_memory.ingest(hippograph.sample_corpus(), progress=False)
    assert (report.added, report.replaced, report.unchanged, report.embedded) == (0, 0, 36, 0)
    assert sample_memory.stats() == before
    assert sample_memory._store.version() == version


def test_changed_document_with_same_id_replaces_the_old_one(sample_memory):
    old = sample_memory.document("sample-02")
    new_text = "Mira Holt retired to Saltmarsh, where she restores wooden boats with Arvid Koss."
    report = sample_memory.ingest(Document(text=new_text, id="sample-02", title="Mira Holt"), progress=False)
    assert (report.added, report.replaced) == (0, 1)
    doc = sample_memory.document("sample-02")
    assert [sample_memory.get(p).text for p in doc.passage_ids] == [new_text]
    assert sql(sample_memory, "SELECT COUNT(*) FROM passages WHERE id = ?", old.passage_ids[0]) == [(0,)]
    # "tempered glass" was only in the old version: its entity is gone, the store has no orphan
    assert sql(sample_memory, "SELECT COUNT(*) FROM entities WHERE key = 'tempered glass'") == [(0,)]
    assert sql(sample_memory, "SELECT COUNT(*) FROM entities WHERE key = 'wooden boats'") == [(1,)]
    assert orphans(sample_memory) == {}
    assert sample_memory.stats().documents == 36


def test_delete_removes_everything_only_that_document_supported(sample_memory):
    doc = sample_memory.document("sample-18")  # Ida Marsh
    passage_id = doc.passage_ids[0]
    only_here = sql(
        sample_memory,
        "SELECT e.key FROM entities e JOIN mentions m ON m.entity_id = e.id WHERE m.passage_id = ? "
        "AND NOT EXISTS (SELECT 1 FROM mentions o WHERE o.entity_id = e.id AND o.passage_id != ?)",
        passage_id,
        passage_id,
    )
    shared = sql(sample_memory, "SELECT COUNT(*) FROM entities WHERE key = 'jonas pell'")
    assert only_here and shared == [(1,)]

    sample_memory.delete("sample-18")

    with pytest.raises(DocumentNotFound):
        sample_memory.document("sample-18")
    with pytest.raises(DocumentNotFound):
        sample_memory.get(passage_id)
    for (key,) in only_here:
        assert sql(sample_memory, "SELECT COUNT(*) FROM entities WHERE key = ?", key) == [(0,)], key
    assert sql(sample_memory, "SELECT COUNT(*) FROM entities WHERE key = 'jonas pell'") == [
        (1,)
    ]  # still mentioned elsewhere
    assert sql(sample_memory, "SELECT COUNT(*) FROM fact_sources WHERE passage_id = ?", passage_id) == [(0,)]
    assert sql(sample_memory, "SELECT COUNT(*) FROM mentions WHERE passage_id = ?", passage_id) == [(0,)]
    assert orphans(sample_memory) == {}
    assert all(hit.document_id != "sample-18" for hit in sample_memory.query("Who is Ida Marsh married to?", k=36))


def test_deleting_every_document_leaves_an_empty_store(sample_memory):
    for i in range(1, 37):
        sample_memory.delete(f"sample-{i:02d}")
    stats = sample_memory.stats()
    assert (
        stats.documents,
        stats.passages,
        stats.entities,
        stats.facts,
        stats.mentions,
        stats.synonym_edges,
        stats.embeddings,
    ) == (0, 0, 0, 0, 0, 0, 0)


def test_unknown_document_id_on_delete_is_a_clear_error(sample_memory):
    before = sample_memory.stats()
    with pytest.raises(DocumentNotFound, match="no document with id 'no-such-doc'"):
        sample_memory.delete("no-such-doc")
    assert sample_memory.stats() == before


def test_reopening_gives_identical_results(make_memory):
    question = "Where was the founder of Brightwater Labs born?"
    memory = make_memory("store")
    memory.ingest(hippograph.sample_corpus(), progress=False)
    before = {
        m: [(h.id, h.score, str(h.explanation)) for h in memory.query(question, k=10, method=m)]
        for m in ("hippograph", "dense")
    }
    memory.close()
    again = make_memory("store")
    after = {
        m: [(h.id, h.score, str(h.explanation)) for h in again.query(question, k=10, method=m)]
        for m in ("hippograph", "dense")
    }
    assert before == after


GRAPH_TABLES = [
    "SELECT id, name, key, embedding_key FROM entities",
    "SELECT id, subject_id, relation, object_id, embedding_key FROM facts",
    "SELECT id, document_id, position, text, embedding_key FROM passages",
    "SELECT passage_id, entity_id FROM mentions",
    "SELECT fact_id, passage_id FROM fact_sources",
    "SELECT a, b, round(weight, 6) FROM synonyms",
    "SELECT key FROM embeddings",
]


def test_same_input_gives_the_same_graph_whatever_the_batch_size(sample_store, tmp_path, embedder, extractor):
    config = dataclasses.replace(EVERY_RECORD, ingest_batch_size=7)  # many batches: entities cross batch borders
    with Memory(tmp_path / "fresh", config, embedder=embedder, extractor=extractor) as fresh:
        fresh.ingest(hippograph.sample_corpus(), progress=False)
        assert orphans(fresh) == {}
        with sqlite3.connect(sample_store / STORE_FILE) as db:
            for query in GRAPH_TABLES:
                assert sorted(sql(fresh, query)) == sorted(db.execute(query).fetchall()), query


def test_empty_and_whitespace_texts_are_skipped_not_stored(make_memory, caplog):
    memory = make_memory()
    report = memory.ingest(["", "   \n\t ", Document(text=" ", id="blank")], progress=False)
    assert report.skipped == 3 and report.added == 0
    assert memory.stats().documents == 0
    assert "text is empty" in caplog.text


def test_broken_jsonl_line_stores_nothing_from_the_file(make_memory, tmp_path):
    memory = make_memory()
    memory.ingest(Document(text="Ansel Brandt is the mayor of Port Averly.", id="kept"), progress=False)
    before = memory.stats()
    path = tmp_path / "corpus.jsonl"
    path.write_text('{"id": "a", "text": "Alpha works at Beta."}\n{"id": "b", "text": \n', encoding="utf-8")
    with pytest.raises(SourceError, match="line 2"):
        memory.ingest(path, progress=False)
    assert memory.stats() == before
    assert memory.document("kept").id == "kept"


def test_non_utf8_file_stores_nothing(make_memory, tmp_path):
    memory = make_memory()
    path = tmp_path / "bad.md"
    path.write_bytes(b"# Title\n\xff\xfe broken bytes")
    with pytest.raises(SourceError, match="not UTF-8"):
        memory.ingest(path, progress=False)
    assert memory.stats().documents == 0


def test_a_crash_mid_ingest_keeps_finished_batches_and_a_rerun_resumes(tmp_path, embedder, extractor):
    # Test double: a wrapper around the real spaCy extractor that fails on its second call,
    # standing in for a crash in the middle of an ingest (nothing real fails on demand).
    class FailingSecondTime:
        name = extractor.name

        def __init__(self):
            self.calls = 0

        def extract(self, passages):
            self.calls += 1
            if self.calls == 2:
                raise RuntimeError("extractor crashed")
            return extractor.extract(passages)

    config = hippograph.Config(ingest_batch_size=10)
    records = [{"id": f"d{i}", "text": f"Person {i} works at Company {i}."} for i in range(20)]
    path = write_jsonl(tmp_path / "c.jsonl", records)
    with Memory(tmp_path / "store", config, embedder=embedder, extractor=FailingSecondTime()) as memory:
        with pytest.raises(RuntimeError, match="extractor crashed"):
            memory.ingest(path, progress=False)
        assert memory.stats().documents == 10
        assert orphans(memory) == {}
    with Memory(tmp_path / "store", config, embedder=embedder, extractor=extractor) as memory:
        report = memory.ingest(path, progress=False)  # resuming: only the lost batch is done
        assert (report.unchanged, report.added) == (10, 10)
        assert memory.stats().documents == 20


def test_query_on_an_empty_store_returns_no_hits(make_memory):
    memory = make_memory()
    assert memory.query("anything at all?") == []
    assert memory.query("anything at all?", method="dense") == []


def test_bad_queries_are_clear_errors(sample_memory):
    with pytest.raises(QueryError, match="empty"):
        sample_memory.query("   ")
    with pytest.raises(QueryError, match="k must be"):
        sample_memory.query("x", k=0)
    with pytest.raises(QueryError, match="k must be"):
        sample_memory.query("x", k=2.5)
    with pytest.raises(QueryError, match="unknown method"):
        sample_memory.query("x", method="lexical")


def test_long_text_is_chunked_into_several_passages(make_memory):
    memory = make_memory()
    sentences = [f"Explorer {i} mapped the valley of river {i}." for i in range(120)]
    memory.ingest(Document(text=" ".join(sentences), id="long", title="Survey"), progress=False)
    doc = memory.document("long")
    assert len(doc.passage_ids) > 1
    texts = [memory.get(p).text for p in doc.passage_ids]
    assert " ".join(texts).split() == " ".join(sentences).split()


def test_a_store_refuses_an_embedder_of_another_model(sample_memory, extractor):
    class OtherModel:
        """Test double: only its name matters, the store must refuse it before it embeds anything."""

        name = "some-other-model"

        def embed(self, texts):
            raise AssertionError("a mismatched model must never be used")

    folder = Path(sample_memory.stats().path).parent
    with Memory(folder, embedder=OtherModel(), extractor=extractor) as memory:
        with pytest.raises(StoreError, match="all-MiniLM-L6-v2"):
            memory.ingest("A new memory about Veloria.", progress=False)
        with pytest.raises(StoreError, match="all-MiniLM-L6-v2"):
            memory.query("Where is Veloria?")
        assert memory.stats().documents == 36


def test_an_error_inside_the_write_transaction_rolls_back_the_whole_batch(sample_memory, monkeypatch):
    # Failure injection: the real insert runs, then the write fails before COMMIT (a disk or
    # lock error cannot be provoked on demand). Nothing of the batch may remain.
    before, version = sample_memory.stats(), sample_memory._store.version()
    real_add_graph = writes._add_graph

    def add_graph_then_fail(records, batch, time):
        real_add_graph(records, batch, time)
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(writes, "_add_graph", add_graph_then_fail)
    replacement = Document(text="Mira Holt moved to Saltmarsh and builds boats.", id="sample-02", title="Mira Holt")
    with pytest.raises(StoreError, match="nothing of this batch was stored"):
        sample_memory.ingest(
            [replacement, Document(text="Brand new memory about Gull Park.", id="new")], progress=False
        )
    monkeypatch.undo()
    assert sample_memory.stats() == before and sample_memory._store.version() == version
    assert "tempered glass" in sample_memory.get(sample_memory.document("sample-02").passage_ids[0]).text
    assert orphans(sample_memory) == {}
    sample_memory.ingest(Document(text="Brand new memory about Gull Park.", id="new"), progress=False)
    assert sample_memory.stats().documents == 37  # the store still takes writes


def test_duplicate_ids_in_one_ingest_keep_the_last(make_memory, caplog):
    memory = make_memory()
    report = memory.ingest(
        [Document(text="First version.", id="x"), Document(text="Second version.", id="x")], progress=False
    )
    assert (report.added, report.skipped) == (1, 1)
    assert memory.get(memory.document("x").passage_ids[0]).text == "Second version."
    assert "appears more than once" in caplog.text


def test_an_entity_first_seen_without_a_fact_gets_a_vector_when_a_fact_names_it(tmp_path, embedder, extractor):
    config = dataclasses.replace(EVERY_RECORD, ingest_batch_size=1)
    with Memory(tmp_path / "s", config, embedder=embedder, extractor=extractor) as memory:
        memory.ingest(
            [Document(text="Visitors love Veloria.", id="a"), Document(text="Mira Holt was born in Veloria.", id="b")],
            progress=False,
        )
        assert sql(memory, "SELECT embedding_key IS NOT NULL FROM entities WHERE key = 'veloria'") == [(1,)]
        assert orphans(memory) == {}


def test_an_entity_keeps_its_first_spelling_and_no_vector_is_orphaned(tmp_path, embedder, extractor):
    config = dataclasses.replace(EVERY_RECORD, ingest_batch_size=1)
    with Memory(tmp_path / "s", config, embedder=embedder, extractor=extractor) as memory:
        memory.ingest(
            [
                Document(text="Mira Holt studied at the Lumen Institute.", id="a"),
                Document(text="Ansel Brandt studied at the LUMEN INSTITUTE.", id="b"),
            ],
            progress=False,
        )
        assert sql(memory, "SELECT name FROM entities WHERE key = 'lumen institute'") == [("Lumen Institute",)]
        assert orphans(memory) == {}


def test_without_entities_the_graph_method_falls_back_to_dense(tmp_path, embedder):
    texts = {"a": "Hello there.", "b": "Good morning!", "c": "Rain again."}
    nothing_found = [{"id": i, "extracted_entities": [], "extracted_triples": []} for i in texts]
    extractor = PrecomputedExtractor(write_jsonl(tmp_path / "none.jsonl", nothing_found))
    memory = Memory(tmp_path / "store", embedder=embedder, extractor=extractor)
    memory.ingest([Document(text, id=i) for i, text in texts.items()], progress=False)
    assert memory.stats().entities == 0
    graph = memory.query("good day", k=3)
    dense = memory.query("good day", k=3, method="dense")
    assert [h.id for h in graph] == [h.id for h in dense]
    assert str(graph[0].explanation) == "dense similarity to the query"


@pytest.mark.parametrize(
    "source,message",
    [
        ({"id": "a", "text": "x"}, "cannot ingest a dict"),
        (Document(text=None, id="a"), "text must be a string"),  # type: ignore[arg-type]
        (Document(text="x", id=7), "id must be a string"),  # type: ignore[arg-type]
        (Document(text="x", id="a", metadata={"when": object()}), "metadata cannot be stored as JSON"),
    ],
)
def test_malformed_documents_are_clear_errors_and_store_nothing(make_memory, source, message):
    memory = make_memory()
    with pytest.raises(SourceError, match=message):
        memory.ingest([Document(text="A fine document.", id="ok"), source], progress=False)
    assert memory.stats().documents == 0


def test_settings_out_of_range_are_refused():
    with pytest.raises(hippograph.ConfigError, match="chunk_words"):
        hippograph.Config(chunk_words=0)
    with pytest.raises(hippograph.ConfigError, match="damping"):
        hippograph.Config(damping=1.5)
    for bad in (
        dict(fact_weight=float("nan")),
        dict(passage_temperature=None),
        dict(synonym_threshold=-0.2),
        dict(topic_edge_weight=True),
        dict(query_entity_weight=0, passage_weight=0, lexical_weight=0),
    ):
        with pytest.raises(hippograph.ConfigError):
            hippograph.Config(**bad)


def test_a_single_query_embeds_like_a_batch(embedder):
    """One text takes the frozen fast path; its vector must match the batch path's."""
    texts = ["Where was the founder of Brightwater Labs born?", "Aschenbrödel", "x " * 400]
    batch = embedder.embed(texts + ["a second text forces the batch path"])[:3]
    for text, expected in zip(texts, batch):
        np.testing.assert_allclose(embedder.embed([text])[0], expected, atol=1e-4)


def test_a_schema_1_store_is_upgraded_in_place(sample_memory, embedder, extractor):
    path = sample_memory.stats().path
    sample_memory.close()
    with sqlite3.connect(path) as db:  # what hippograph 0.1 stores looked like
        db.execute("DROP INDEX facts_by_group_end")
        db.execute("CREATE INDEX facts_by_subject ON facts (subject_id)")
        for table, column in [
            ("passages", "extraction_error"),
            ("passages", "keywords"),
            ("passages", "tags"),
            ("passages", "context"),
            ("passages", "updated_at"),
            ("facts", "relation_group"),
            ("facts", "valid_from"),
            ("facts", "valid_to"),
        ]:
            db.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
        db.execute("DROP TABLE links")
        db.execute("DROP TABLE note_history")
        for (table,) in db.execute("SELECT name FROM sqlite_master WHERE sql LIKE 'CREATE VIRTUAL TABLE%'").fetchall():
            db.execute(f"DROP TABLE {table}")  # the full-text index of schema version 4
        db.execute("DROP TABLE passage_search_ids")
        db.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    with Memory(Path(path).parent, embedder=embedder, extractor=extractor) as memory:
        assert memory.stats().failed_extractions == 0 and memory.stats().passages == 36
        assert memory.query("Where was the founder of Brightwater Labs born?", k=1)
        assert sql(memory, "SELECT value FROM meta WHERE key = 'schema_version'") == [("4",)]
        assert (
            memory.query("Brightwater", k=1, method="bm25")[0].document_id == "sample-01"
        )  # the stored notes are indexed
        assert sql(memory, "SELECT COUNT(*) FROM facts WHERE valid_from IS NULL") == [(0,)]
        note = memory.get(memory.document("sample-01").passage_ids[0])
        assert note.keywords == () and note.links == ()  # older notes have no attributes; new ones will
        assert "Tessaly" in memory.add("Mira Holt now lives in Tessaly.").keywords  # new notes get attributes


def test_identical_chunks_of_one_document_are_stored_once(make_memory):
    memory = make_memory()
    report = memory.ingest(hippograph.Document("buffalo " * 5000, id="herd"), progress=False)
    stored = memory.document("herd")
    texts = [memory.get(passage_id).text for passage_id in stored.passage_ids]
    assert len(texts) == len(set(texts)) == report.passages <= 2  # 5,000 words, 25 chunks of 200 before
    assert memory.stats().links == 0


class PoisonedEmbedder:
    """The real embedder, but NaN for texts that name "poison": a test double, because no real
    model gives NaN on demand (a broken model or a bad build does, now and then)."""

    def __init__(self, real) -> None:
        self.real, self.name = real, real.name

    def embed(self, texts):
        vectors = np.array(self.real.embed(texts), dtype=np.float32)
        vectors[["poison" in text for text in texts]] = np.nan
        return vectors


def test_an_embedder_giving_nan_stores_nothing_of_the_batch(sample_memory, embedder, extractor, tmp_path):
    before = sample_memory.stats()
    with Memory(tmp_path / "sample", embedder=PoisonedEmbedder(embedder), extractor=extractor) as poisoned:
        with pytest.raises(hippograph.ModelError, match="NaN or infinite numbers for 'Nia Park sells poison"):
            poisoned.add("Nia Park sells poison ivy at the market.")
        assert poisoned.stats() == before
    assert sample_memory.query("Where was the founder of Brightwater Labs born?", k=3)


@pytest.mark.parametrize(
    "vector,problem",
    [
        (np.ones(383, dtype=np.float32), "holds 383 numbers, not 384"),
        (np.full(384, np.nan, dtype=np.float32), "holds NaN or infinity"),
    ],
)
@pytest.mark.parametrize("method", ["hippograph", "dense"])
def test_a_stored_vector_that_does_not_fit_is_a_store_error_naming_it(sample_memory, vector, problem, method):
    path = sample_memory.stats().path
    with sqlite3.connect(path) as db:  # damage the file as a bad tool or a bad import would
        passage, key = db.execute("SELECT id, embedding_key FROM passages ORDER BY id LIMIT 1").fetchone()
        db.execute("UPDATE embeddings SET vector = ? WHERE key = ?", (vector.tobytes(), key))
    with pytest.raises(StoreError, match=f"the stored vector of passage {passage} {problem}"):
        sample_memory.query("Where was the founder of Brightwater Labs born?", method=method)


def test_an_ingest_ends_with_its_writes_in_the_database_file(tmp_path, embedder, extractor):
    """An ingest lets SQLite's WAL grow between its batches, then copies it back into the
    database file, where reads are faster: a copy of the file alone holds the whole ingest."""
    folder, copy = tmp_path / "memory", tmp_path / "copy"
    with Memory(folder, embedder=embedder, extractor=extractor) as memory:
        memory.ingest(hippograph.sample_corpus(), progress=False)
        copy.mkdir()
        (copy / STORE_FILE).write_bytes((folder / STORE_FILE).read_bytes())  # without the -wal file
        with sqlite3.connect(f"file:{copy / STORE_FILE}?immutable=1", uri=True) as db:
            stored = db.execute("SELECT COUNT(*) FROM passages").fetchone()[0]
        assert stored == memory.stats().passages > 0
