"""The passage index of large namespaces (graph/passage_index.py): seeds as the exact search gives,
kept up to date by every write, saved beside the store and reopened without building it again.
Its threshold is lowered to the sample corpus's size, so the same code runs as on a million."""

from __future__ import annotations

import dataclasses
import functools
import logging

import numpy as np
import pytest

import hippograph
from hippograph import Config, Memory
from hippograph.embed.neighbours import NeighbourIndex
from hippograph.graph.passage_index import PassageIndex
from hippograph.notes import links
from hippograph.sources import read_sources

INDEXED = Config(ppr_solver="local", approximate_from_passages=10, seed_passages=8)
QUESTIONS = [
    "Where was the founder of Brightwater Labs born?",
    "Which club did the husband of Ida Marsh play for?",
    "Who founded the organisation that awards the Kestrel Prize?",
]


@pytest.fixture
def indexed_store(tmp_path, embedder, extractor):
    folder = tmp_path / "store"
    with Memory(folder, INDEXED, embedder=embedder, extractor=extractor) as memory:
        memory.ingest(hippograph.sample_corpus(), progress=False)
        memory.query(QUESTIONS[0])  # the view, and its index, exist from here on
    return folder


def _live_in_index(memory: Memory) -> set[str]:
    """The live passages the namespace's index finds, asked for more than there are."""
    view = memory._views.get("default")
    data = view.data
    found = view.passage_index.nearest(data, data.passage_vectors[np.flatnonzero(data.passage_alive)[0]], 1000)
    return {data.passage_ids[slot] for slot in found.tolist()}


def _live(memory: Memory) -> set[str]:
    data = memory._views.get("default").data
    return {data.passage_ids[slot] for slot in np.flatnonzero(data.passage_alive).tolist()}


def test_seeds_from_the_index_rank_as_seeds_from_every_vector(indexed_store, embedder, extractor):
    exact = Config(ppr_solver="local", seed_passages=8)
    with (
        Memory(indexed_store, INDEXED, embedder=embedder, extractor=extractor, read_only=True) as indexed,
        Memory(indexed_store, exact, embedder=embedder, extractor=extractor, read_only=True) as compared,
    ):
        for question in QUESTIONS:
            hits, expected = indexed.query(question, k=5), compared.query(question, k=5)
            assert indexed._views.get("default").passage_index is not None
            assert compared._views.get("default").passage_index is None
            assert [h.id for h in hits] == [h.id for h in expected]
            assert [h.score for h in hits] == pytest.approx([h.score for h in expected], abs=1e-9)


def test_the_index_follows_adds_updates_and_deletes(indexed_store, embedder, extractor):
    with Memory(indexed_store, INDEXED, embedder=embedder, extractor=extractor) as memory:
        note = memory.add("Mira Holt opened a second laboratory in Veloria.")
        assert note.id in _live_in_index(memory) and _live_in_index(memory) == _live(memory)
        memory.update(note.id, "Mira Holt closed her laboratory in Veloria.")
        assert _live_in_index(memory) == _live(memory)
        memory.delete_note(note.id)
        memory.delete("sample-02")
        assert note.id not in _live_in_index(memory)
        assert _live_in_index(memory) == _live(memory)


def test_a_saved_index_is_reopened_and_caught_up_not_built_again(
    indexed_store, embedder, extractor, monkeypatch, caplog
):
    assert list((indexed_store / "indexes").glob("passages-*.usearch"))
    with Memory(indexed_store, Config(), embedder=embedder, extractor=extractor) as writer:  # below no threshold
        added = writer.add("Ida Marsh coached the Harbour Rovers for a season.")
        writer.delete("sample-03")

    def not_again(*_):
        raise AssertionError("the saved index was built again")

    monkeypatch.setattr(PassageIndex, "built", not_again)
    with Memory(indexed_store, INDEXED, embedder=embedder, extractor=extractor) as memory:
        live = _live_in_index(memory)
        assert added.id in live and live == _live(memory)


def test_an_unreadable_index_file_is_built_again_with_a_warning(indexed_store, embedder, extractor, caplog):
    for path in (indexed_store / "indexes").glob("passages-*.usearch"):
        path.write_bytes(b"not an index")
    with (
        caplog.at_level(logging.WARNING),
        Memory(indexed_store, INDEXED, embedder=embedder, extractor=extractor) as memory,
    ):
        assert memory.query(QUESTIONS[1], k=3)
        assert _live_in_index(memory) == _live(memory)
    assert "cannot read the passage index" in caplog.text


def test_a_view_read_again_leaves_an_older_view_its_own_slots(indexed_store, embedder, extractor):
    """A view kept up to date numbers a new note after all others; the same view read afresh numbers
    passages by id. A query still running on the older view must find its own passages."""
    with Memory(indexed_store, INDEXED, embedder=embedder, extractor=extractor) as memory:
        memory.query(QUESTIONS[0])  # the view is read here; the adds are applied to it as deltas
        for place in ("Port Averly", "Veloria", "Tessaly", "Dunmere"):  # some sort before older passages by id
            memory.add(f"Ida Marsh opened a sailing school in {place}.")
        older = memory._views.get("default")
        memory._views._kept.clear()  # what a re-read (room full, too many dead nodes) does
        newer = memory._views.get("default")
        assert older.data.passage_ids != newer.data.passage_ids  # two numberings
        for view in (older, newer):
            data = view.data
            query = data.passage_vectors[np.flatnonzero(data.passage_alive)[0]]
            found = {data.passage_ids[slot] for slot in view.passage_index.nearest(data, query, 1000).tolist()}
            assert found == {data.passage_ids[slot] for slot in np.flatnonzero(data.passage_alive).tolist()}


def test_saving_again_keeps_one_graph_file_that_loads(indexed_store, embedder, extractor):
    with Memory(indexed_store, INDEXED, embedder=embedder, extractor=extractor) as memory:
        memory.add("Petra Lind sold the shipyard to Orlen Works.")
        memory.query(QUESTIONS[2])
    graphs = list((indexed_store / "indexes").glob("passages-*.usearch"))
    assert len(graphs) == 1
    with Memory(indexed_store, INDEXED, embedder=embedder, extractor=extractor, read_only=True) as memory:
        assert _live_in_index(memory) == _live(memory)


def test_a_mapped_index_follows_writes_after_another_memory_saved_over_its_file(
    indexed_store, embedder, extractor, caplog
):
    """A memory maps the saved index; another adds a note and closes, saving a newer index and
    deleting the file the first one mapped. The first one's next query changes its index (a copy
    of the mapping) and finds the note, without a rebuild."""
    caplog.set_level(logging.INFO)
    with Memory(indexed_store, INDEXED, embedder=embedder, extractor=extractor) as first:
        first.query(QUESTIONS[0])
        with Memory(indexed_store, INDEXED, embedder=embedder, extractor=extractor) as second:
            note = second.add("Ida Marsh coached the Harbour Rovers for a season.")
            second.query(QUESTIONS[0])
        caplog.clear()
        assert note.id in _live_in_index(first)
        assert first.query(note.text, k=1)[0].id == note.id
    assert "built the passage index" not in caplog.text
    assert len(list((indexed_store / "indexes").glob("*.usearch"))) == 1


@pytest.fixture
def note_graphs_from_ten(monkeypatch):
    """The note linker's HNSW graph from 10 notes on (20,000 by default), as the index's own."""
    monkeypatch.setattr(
        links, "NeighbourIndex", functools.partial(NeighbourIndex, approximate_from=10, linked_before_graph=0)
    )


def test_an_ingest_leaves_its_note_graph_as_the_passage_index_and_no_open_builds_one(
    tmp_path, embedder, extractor, monkeypatch, note_graphs_from_ten
):
    folder = tmp_path / "store"
    with Memory(folder, INDEXED, embedder=embedder, extractor=extractor) as memory:
        documents = read_sources(hippograph.sample_corpus())
        memory.ingest(documents[:30], progress=False)
        memory.ingest(documents[20:], progress=False)
        changed = documents[3]
        memory.ingest([dataclasses.replace(changed, text=changed.text + " It was renamed in 1990.")], progress=False)
    assert len(list((folder / "indexes").glob("passages-*.usearch"))) == 1

    def not_built(*_):
        raise AssertionError("the passage index was built although the ingest left one")

    monkeypatch.setattr(PassageIndex, "built", not_built)
    exact = Config(ppr_solver="local", seed_passages=8)
    with (
        Memory(folder, INDEXED, embedder=embedder, extractor=extractor, read_only=True) as adopted,
        Memory(folder, exact, embedder=embedder, extractor=extractor, read_only=True) as compared,
    ):
        assert _live_in_index(adopted) == _live(adopted)  # the replaced passage left it, the new one is in
        for question in QUESTIONS:
            assert [h.id for h in adopted.query(question, k=5)] == [h.id for h in compared.query(question, k=5)]


def test_a_note_graph_is_not_kept_when_another_write_came_after_the_ingest(
    tmp_path, embedder, extractor, note_graphs_from_ten
):
    folder = tmp_path / "store"
    with Memory(folder, INDEXED, embedder=embedder, extractor=extractor) as memory:
        memory.ingest(hippograph.sample_corpus(), progress=False)
        with Memory(folder, Config(), embedder=embedder, extractor=extractor) as other:
            other.delete("sample-05")
    assert not list((folder / "indexes").glob("passages-*.usearch"))  # its graph still held sample-05
    with Memory(folder, INDEXED, embedder=embedder, extractor=extractor, read_only=True) as reader:
        assert reader.query(QUESTIONS[0], k=3) and _live_in_index(reader) == _live(reader)


def test_a_note_graph_is_not_kept_when_another_write_came_between_its_batches(
    tmp_path, embedder, extractor, note_graphs_from_ten
):
    folder = tmp_path / "store"

    class DeletingBeforeTheSecondBatch:
        """The extractor, and another process's delete while the ingest runs."""

        name, batches = extractor.name, 0

        def extract(self, passages):
            self.batches += 1
            if self.batches == 2:
                with Memory(folder, Config(), embedder=embedder, extractor=extractor) as other:
                    other.delete("sample-01")
            return extractor.extract(passages)

    config = dataclasses.replace(INDEXED, ingest_batch_size=12)
    with Memory(folder, config, embedder=embedder, extractor=DeletingBeforeTheSecondBatch()) as memory:
        memory.ingest(hippograph.sample_corpus(), progress=False)
    assert not list((folder / "indexes").glob("passages-*.usearch"))  # its graph still held sample-01
