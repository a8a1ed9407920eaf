"""Graph views saved between processes (graph/view_cache.py): the next memory opening the store
loads the view instead of building it, catches up what was written since, and ranks as a view
built afresh; a saved view that is damaged, of other code or of another store is never used.
The threshold is lowered to the sample corpus's size, so the same code runs as on a million."""

from __future__ import annotations

import logging
import shutil
import sqlite3

import pytest

import hippograph
from hippograph import Config, Memory
from hippograph.graph import view_cache

SAVED = Config(save_views_from=5)
QUESTIONS = [
    "Where was the founder of Brightwater Labs born?",
    "Which club did the husband of Ida Marsh play for?",
    "Who founded the organisation that awards the Kestrel Prize?",
]


@pytest.fixture(autouse=True)
def user_cache(tmp_path, monkeypatch):
    """A user cache folder of this test's own, so that it sees only the views it saved."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def open_memory(tmp_path, embedder, extractor):
    opened = []

    def open_(config: Config = SAVED, folder=None, **options) -> Memory:
        memory = Memory(folder or tmp_path / "store", config, embedder=embedder, extractor=extractor, **options)
        opened.append(memory)
        return memory

    yield open_
    for memory in opened:
        memory.close()


def _answers(memory: Memory) -> list:
    return [[(h.id, round(h.score, 9)) for h in memory.query(q, k=5)] for q in QUESTIONS]


def _built_afresh(open_memory, folder) -> list:
    with open_memory(Config(save_views_from=None), folder, read_only=True) as fresh:
        return _answers(fresh)


def _never_built(monkeypatch) -> None:
    """From here on, reading a namespace's whole graph out of the store fails the test."""

    def refuse(self, namespace):
        raise AssertionError("the view was read from the store instead of loaded")

    monkeypatch.setattr(hippograph.store.record_store.RecordStore, "graph_data", refuse)


def _saved_files(user_cache) -> list:
    return sorted(path.name for path in user_cache.rglob("view-*"))


@pytest.fixture
def saved_store(open_memory, tmp_path):
    with open_memory() as memory:
        memory.ingest(hippograph.sample_corpus(), progress=False)
        memory.query(QUESTIONS[0])  # built, and saved
    return tmp_path / "store"


def test_a_saved_view_is_loaded_and_ranks_as_one_built_afresh(saved_store, open_memory, monkeypatch, user_cache):
    expected = _built_afresh(open_memory, saved_store)
    assert not list(saved_store.rglob("*.pickle")), "a saved view (a pickle) must never lie in the store"
    _never_built(monkeypatch)
    with open_memory(read_only=True) as memory:
        assert _answers(memory) == expected
    assert len(_saved_files(user_cache)) == 2  # one pickle and its arrays


def test_a_loaded_view_catches_up_with_writes_made_since(saved_store, open_memory, monkeypatch):
    with open_memory(Config(save_views_from=None)) as writer:  # writes without saving views
        note = writer.add("Ida Marsh moved to the harbour town of Veloria.")
        writer.delete_note(writer.query(QUESTIONS[2], k=1)[0].id)
    expected = _built_afresh(open_memory, saved_store)
    _never_built(monkeypatch)
    with open_memory() as memory:
        assert _answers(memory) == expected
        assert memory.query(note.text, k=1, method="dense")[0].id == note.id


def test_a_view_is_saved_again_at_close_only_when_it_moved_on(saved_store, open_memory, user_cache):
    before = _saved_files(user_cache)
    with open_memory(read_only=True) as reader:
        reader.query(QUESTIONS[0])
    assert _saved_files(user_cache) == before  # loaded, unchanged: not written again
    with open_memory() as memory:
        memory.query(QUESTIONS[0])
        memory.add("Ida Marsh moved to the harbour town of Veloria.")
        memory.query(QUESTIONS[0])
    after = _saved_files(user_cache)
    assert len(after) == 2 and after != before


@pytest.mark.parametrize("damage", ["pickle", "buffers", "pointer"])
def test_a_damaged_saved_view_is_built_again_with_a_warning(saved_store, open_memory, user_cache, caplog, damage):
    expected = _built_afresh(open_memory, saved_store)
    suffix = ".json" if damage == "pointer" else f".{damage}"
    (target,) = [path for path in user_cache.rglob("*") if path.suffix == suffix]
    target.write_bytes(target.read_bytes()[: len(target.read_bytes()) // 3])
    caplog.set_level(logging.WARNING)
    with open_memory(read_only=True) as memory:
        assert _answers(memory) == expected
    assert "building the view again" in caplog.text


def test_a_view_saved_by_other_code_is_not_loaded(saved_store, open_memory, monkeypatch):
    monkeypatch.setattr(view_cache, "code_hash", lambda: "other code")
    called = []
    original = hippograph.store.record_store.RecordStore.graph_data
    monkeypatch.setattr(
        hippograph.store.record_store.RecordStore,
        "graph_data",
        lambda self, namespace: called.append(namespace) or original(self, namespace),
    )
    with open_memory(read_only=True) as memory:
        memory.query(QUESTIONS[0])
    assert called == ["default"]


def test_a_view_saved_for_another_store_at_the_same_place_is_not_used(saved_store, open_memory):
    shutil.rmtree(saved_store)
    with open_memory() as memory:  # another store where the first one was
        memory.ingest(
            [hippograph.Document("Mira Holt founded the Kestrel Prize in Veloria.", id="other")], progress=False
        )
    with open_memory(read_only=True) as memory:
        hits = memory.query(QUESTIONS[2], k=5)
    assert [h.document_id for h in hits] == ["other"]


def test_small_namespaces_are_not_saved(open_memory, user_cache):
    before = _saved_files(user_cache)
    with open_memory(Config(save_views_from=1000)) as memory:
        memory.ingest(hippograph.sample_corpus(), progress=False)
        memory.query(QUESTIONS[0])
    assert _saved_files(user_cache) == before


def test_a_bulk_import_leaves_its_view_for_the_first_query(open_memory, monkeypatch, tmp_path, user_cache):
    with open_memory() as memory:  # no query: the view is built when the memory closes
        memory.ingest(hippograph.sample_corpus(), progress=False)
    assert _saved_files(user_cache)
    expected = _built_afresh(open_memory, tmp_path / "store")
    _never_built(monkeypatch)
    with open_memory(read_only=True) as memory:
        assert _answers(memory) == expected


def test_an_import_below_the_threshold_or_cut_short_leaves_no_view(open_memory, tmp_path, user_cache):
    with open_memory(Config(save_views_from=1000)) as memory:
        memory.ingest(hippograph.sample_corpus(), progress=False)
    assert _saved_files(user_cache) == []
    with pytest.raises(KeyboardInterrupt), open_memory(folder=tmp_path / "other") as memory:
        memory.ingest(hippograph.sample_corpus(), progress=False)
        raise KeyboardInterrupt  # the user stops the script: it closes at once
    assert _saved_files(user_cache) == []


def test_a_view_that_cannot_be_built_at_close_is_a_warning_and_the_first_query_says_why(
    open_memory, tmp_path, user_cache, caplog
):
    memory = open_memory()
    memory.ingest(hippograph.sample_corpus(), progress=False)
    stored = memory.stats()
    with sqlite3.connect(stored.path) as db:  # damaged by another tool while the memory is open
        db.execute("UPDATE embeddings SET vector = ? WHERE key = (SELECT MIN(embedding_key) FROM passages)", (b"bad",))
    caplog.set_level(logging.WARNING)
    memory.close()  # the ingest's batches are stored: closing does not fail on the view
    assert "was not built for the next process" in caplog.text
    assert _saved_files(user_cache) == []
    with open_memory(read_only=True) as reader:
        assert reader.stats().passages == stored.passages
        with pytest.raises(hippograph.StoreError, match="the stored vector of passage"):
            reader.query(QUESTIONS[0])


def test_deleting_the_namespace_deletes_its_saved_views(saved_store, open_memory, user_cache):
    assert _saved_files(user_cache)
    with open_memory() as memory:
        memory.delete_namespace("default")
    assert _saved_files(user_cache) == []


def test_saved_views_are_the_users_alone(saved_store, user_cache):
    folders = [path for path in (user_cache / "hippograph" / "views").rglob("*") if path.is_dir()]
    assert folders and all(path.stat().st_mode & 0o077 == 0 for path in [user_cache / "hippograph" / "views", *folders])
