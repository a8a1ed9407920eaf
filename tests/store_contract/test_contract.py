"""One contract for every store: the same operations on the SQLite store and on a graph server
(a real Bolt server, ArcadeDB, see tests/bolt_server.py) leave the same records (time fields
aside) and give the same answers, and no record ever points at one that is gone."""

from __future__ import annotations

import random
import threading
import traceback
from collections import Counter

import pytest

import hippograph
from hippograph import Config, Document, Memory
from hippograph.sources import read_sources

from ..conftest import EVERY_RECORD
from ..invariants import comparable, dangling, edges_disagreeing, records

QUESTIONS = ["Where was the founder of Brightwater Labs born?", "Who is Ida Marsh married to?"]
NOTES = Config(synonym_threshold=0.8, fact_weight=0.1, evolve_notes=True, link_threshold=0.6)


@pytest.fixture
def reference(tmp_path, embedder, extractor):
    def open_(config: Config = EVERY_RECORD) -> Memory:
        return Memory(tmp_path / "reference", config, embedder=embedder, extractor=extractor)

    return open_


def answers(memory: Memory, namespace: str | None = None) -> list:
    return [
        [(h.id, round(h.score, 9)) for h in memory.query(q, k=10, method=m, namespace=namespace)]
        for q in QUESTIONS
        for m in ("hippograph", "dense")
    ]


def corpus_changes(memory: Memory) -> None:
    """Ingest the sample corpus, again unchanged, then replace one document and delete another;
    then replace a document with one naming the same entity, and add a synonym of it."""
    corpus = read_sources(hippograph.sample_corpus())
    memory.ingest(corpus, progress=False)
    memory.ingest(corpus, progress=False)
    memory.ingest(
        Document(
            "Mira Holt retired to Saltmarsh, where she restores boats with Arvid Koss.",
            id="sample-02",
            title="Mira Holt",
        ),
        progress=False,
    )
    memory.delete("sample-18")
    # A replacement naming the same new entity: it stays known, so a later synonym still finds it.
    memory.ingest(
        Document("Ida Marsh founded Kessel Boat Works in Veloria.", id="yard", title="Ida Marsh"), progress=False
    )
    memory.ingest(
        Document("Ida Marsh founded Kessel Boat Works in Saltmarsh.", id="yard", title="Ida Marsh"), progress=False
    )
    memory.ingest(
        Document("Arvid Koss joined Kessel Boatworks in 1990.", id="yard-2", title="Arvid Koss"), progress=False
    )


def notes_changes(memory: Memory) -> None:
    """Notes in three namespaces with links, evolution, an update, a revert, then one namespace
    deleted (with the vectors only it used)."""
    for namespace in ("a", "b", "c"):
        first = memory.add(
            "Mira Holt founded Brightwater Labs in Veloria.", namespace=namespace, timestamp="2024-01-01"
        )
        memory.add(
            "Mira Holt lives in Veloria and works at Brightwater Labs.", namespace=namespace, timestamp="2024-01-02"
        )
        memory.add(
            "Mira Holt moved to Saltmarsh. Mira Holt lives in Saltmarsh now.",
            namespace=namespace,
            timestamp="2024-02-01",
        )
        memory.add(
            f"Arvid Koss keeps the ledger of {namespace}.",
            namespace=namespace,  # vectors of its own
            timestamp="2024-02-02",
        )
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
        assert memory.stats().__dict__ | {"path": "", "size_bytes": 0} == expected.stats().__dict__ | {
            "path": "",
            "size_bytes": 0,
        }
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
                assert memory.facts("Mira Holt", namespace=namespace, as_of=as_of) == expected.facts(
                    "Mira Holt", namespace=namespace, as_of=as_of
                )
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
        except Exception:  # noqa: BLE001 (reported by the assertion below, with where it was raised)
            failures.append(traceback.format_exc())

    writers = [threading.Thread(target=write, args=(part,)) for part in parts]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    assert not failures, "\n".join(failures)
    memory = open_memory()
    with reference() as expected:
        expected.ingest(documents, progress=False)
        assert comparable(records(memory)) == comparable(records(expected))
    assert dangling(records(memory)) == [] and edges_disagreeing(memory) == []


def test_tally_counts_what_find_reads(open_memory):
    """A backend's tally (counted in its query language) agrees with counting the records find reads."""
    memory = open_memory()
    memory.ingest(read_sources(hippograph.sample_corpus()), progress=False)
    store = memory._store
    with store._reading() as records:
        entities = [row["id"] for row in records.scan("entity")][:40] + ["no-such-entity"]
        counted = records.tally("mention", "entity_id", entities)
        capped = records.tally("mention", "entity_id", entities, at_most=2)
        read = Counter(row["entity_id"] for row in records.find("mention", "entity_id", entities))
    assert counted == dict(read) and max(counted.values()) > 2 and "no-such-entity" not in counted
    assert capped == {entity: min(count, 2) for entity, count in read.items()}
    with store._reading() as records:  # at the start node of a relationship, and by a node's own field
        passages = [row["id"] for row in records.scan("passage")][:10]
        by_passage = Counter(row["passage_id"] for row in records.find("mention", "passage_id", passages))
        facts = records.scan("fact")
        subjects = sorted({row["subject_id"] for row in facts})[:20]
        by_subject = Counter(row["subject_id"] for row in records.find("fact", "subject_id", subjects))
        assert records.tally("mention", "passage_id", passages) == dict(by_passage)
        assert records.tally("fact", "subject_id", subjects) == dict(by_subject) and max(by_subject.values()) > 1


def test_find_by_two_fields_reads_what_filtering_one_field_reads(open_memory):
    """find with a tuple of fields (nodes and relationships alike) keeps the records matching a
    value tuple field by field, in the namespace asked."""
    memory = open_memory()
    memory.ingest(read_sources(hippograph.sample_corpus()), progress=False)
    with memory._store._reading() as records:
        facts = [row for row in records.scan("fact")][:30]
        wanted = {(row["subject_id"], row["relation"]) for row in facts[::2]} | {(facts[1]["subject_id"], "no such")}
        by_subject = records.find("fact", "subject_id", {subject for subject, _ in wanted})
        found = records.find("fact", ("subject_id", "relation"), wanted, "default")
        mentions = [row for row in records.scan("mention")][:20]
        pairs = {(row["passage_id"], row["entity_id"]) for row in mentions[::3]}
        found_mentions = records.find("mention", ("passage_id", "entity_id"), pairs)
        elsewhere = records.find("fact", ("subject_id", "relation"), wanted, "another-namespace")
    expected = {row["id"] for row in by_subject if (row["subject_id"], row["relation"]) in wanted}
    assert sorted(row["id"] for row in found) == sorted(expected) and len(expected) >= 15
    assert {(row["passage_id"], row["entity_id"]) for row in found_mentions} == pairs
    assert elsewhere == []


def test_find_not_before_keeps_the_records_unset_or_from_a_value(open_memory):
    memory = open_memory()
    memory.add("Mira Holt lives in Paris.", timestamp="2020-01-01")
    memory.add("Mira Holt lives in Berlin.", timestamp="2022-06-01")
    memory.add("Mira Holt lives in Oslo.", timestamp="2024-01-01")
    with memory._store._reading() as records:
        facts = list(records.scan("fact"))
        groups = {(row["subject_id"], row["relation_group"]) for row in facts}
        found = {
            since: sorted(
                row["valid_to"]
                for row in records.find(
                    "fact", ("subject_id", "relation_group"), groups, not_before=("valid_to", since)
                )
                if row["valid_to"]
            )
            for since in ("2021-01-01", "2023-01-01")
        }
        with pytest.raises(ValueError, match="no field"):
            records.find("fact", "id", [facts[0]["id"]], not_before=("until", "2021"))
    assert len(facts) == 3
    assert found == {
        "2021-01-01": ["2022-06-01T00:00:00+00:00", "2024-01-01T00:00:00+00:00"],
        "2023-01-01": ["2024-01-01T00:00:00+00:00"],
    }


def test_fact_validity_follows_adds_and_deletes_in_any_time_order(open_memory):
    """Notes of people moving between cities, added out of time order (ties too) and deleted:
    after every write each fact holds from its earliest note until the first later note naming
    another city, as worked out from scratch. The scripted steps first: an earlier note of
    another city, an earlier note of a stated city, and deletes that move a start later or take
    away the fact that ended another."""
    memory = open_memory(config=Config())
    rng = random.Random(22)
    scripted = [("Paris", 3), ("Berlin", 4), ("Oslo", 2), ("Paris", 1), "delete 3", "delete 1"]
    live: dict[str, tuple[str, str, str]] = {}  # note id -> (person, city, time)
    added: list[str] = []
    for step in range(30):
        operation = scripted[step] if step < len(scripted) else None
        if isinstance(operation, str) or (operation is None and len(live) > 2 and rng.random() < 0.3):
            note_id = added[int(operation.split()[1])] if operation else rng.choice(sorted(live))
            memory.delete_note(note_id)
            del live[note_id]
        else:
            person = "Mira Holt" if operation else rng.choice(["Mira Holt", "Ida Marsh"])
            city, month = operation or (rng.choice(["Paris", "Berlin", "Oslo"]), rng.randint(1, 5))
            time = f"2020-0{month}-01T00:00:00+00:00"
            added.append(memory.add(f"{person} lives in {city}.", timestamp=time, id=f"n{step}").id)
            live[added[-1]] = (person, city, time)
        for person in ("Mira Holt", "Ida Marsh"):
            starts: dict[str, str] = {}
            for who, city, time in live.values():
                if who == person:
                    starts[city] = min(starts.get(city, time), time)
            expected = {
                (city, start, min((s for c, s in starts.items() if c != city and s > start), default=None))
                for city, start in starts.items()
            }
            stored = {(f.object, f.valid_from, f.valid_to) for f in memory.facts(person)}
            assert stored == expected, (step, person)


def test_a_fact_several_notes_of_one_batch_state_holds_from_the_earliest(open_memory):
    """One ingest batch, out of time order: a fact new to the store starts at the earliest of the
    batch's notes stating it, and a later batch stating it earlier moves its start."""
    memory = open_memory(config=Config())

    def note(number: int, city: str, month: int) -> Document:
        return Document(f"Mira Holt lives in {city}.", id=f"n{number}", timestamp=f"2020-0{month}-01T00:00:00+00:00")

    def validity() -> set:
        return {(f.object, f.valid_from[:7], f.valid_to and f.valid_to[:7]) for f in memory.facts("Mira Holt")}

    memory.ingest([note(1, "Paris", 5), note(2, "Oslo", 4), note(3, "Paris", 3), note(4, "Paris", 6)], progress=False)
    assert validity() == {("Paris", "2020-03", "2020-04"), ("Oslo", "2020-04", None)}
    memory.ingest([note(5, "Oslo", 2), note(6, "Paris", 7)], progress=False)
    assert validity() == {("Oslo", "2020-02", "2020-03"), ("Paris", "2020-03", None)}


def test_rows_read_what_scan_reads_as_tuples_of_the_fields_asked(open_memory):
    memory = open_memory()
    memory.ingest(read_sources(hippograph.sample_corpus()), progress=False)
    memory.add("A note in another namespace.", namespace="elsewhere")
    asked = {
        "passage": ("id", "embedding_key", "title", "created_at"),
        "fact": ("subject_id", "object_id", "relation", "valid_to", "id"),
        "mention": ("passage_id", "entity_id"),
        "link": ("a", "b", "weight", "kind"),
        "entity": ("name", "id"),
    }
    with memory._store._reading() as records:
        for kind, fields in asked.items():
            scanned = [tuple(row[field] for field in fields) for row in records.scan(kind, "default")]
            assert list(records.rows(kind, fields, "default")) == scanned, kind
            assert scanned or kind == "link"
        with pytest.raises(ValueError, match="no field"):
            records.rows("passage", ("id", "colour"))


def test_get_of_some_fields_reads_those_and_the_key(open_memory):
    memory = open_memory()
    memory.ingest(read_sources(hippograph.sample_corpus()), progress=False)
    with memory._store._reading() as records:
        passages = [row["id"] for row in records.scan("passage")][:5] + ["no-such-passage"]
        whole = records.get("passage", passages)
        some = records.get("passage", passages, ("title", "created_at"))
        mentions = [(row["passage_id"], row["entity_id"]) for row in records.scan("mention")][:5]
        entity_ids = records.get("mention", mentions, ("entity_id",))
        with pytest.raises(ValueError, match="no field"):
            records.get("passage", passages, ("colour",))
    assert len(whole) == 5 and some == {
        k: {f: row[f] for f in ("id", "title", "created_at")} for k, row in whole.items()
    }
    assert entity_ids == {key: {"passage_id": key[0], "entity_id": key[1]} for key in mentions}
