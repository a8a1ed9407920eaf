"""A write costs its delta: adding a note to a SQLite store does as much work in a store of
3,000 notes as in one of 300. The work is counted by SQLite's progress handler, called once for
every 100 virtual-machine instructions a statement runs: it depends on neither the machine's speed
nor its load, and a statement that reads every passage of the namespace shows up however fast it
runs (one write's short statements hardly do)."""

from __future__ import annotations

import numpy as np

from hippograph import Config, Document, Memory

BULK = Config(link_threshold=None, save_views_from=None)  # the store's writes alone
STEP = 100  # instructions of one statement between two calls of the progress handler
DIMENSION = 384  # all-MiniLM-L6-v2, the test embedder


def _store_of(folder, notes: int, embedder, extractor) -> Memory:
    """A store holding `notes` notes of one namespace, their vectors given (nothing to embed)."""
    rng = np.random.default_rng(notes)
    vectors = rng.normal(size=(notes, DIMENSION))
    memory = Memory(folder, BULK, embedder=embedder, extractor=extractor)
    memory.ingest(
        [Document(f"Note {n} is about kestrel number {n}.", id=f"n{n}", vector=v) for n, v in enumerate(vectors)],
        progress=False,
    )
    return memory


def _instructions_to_add_a_note(memory: Memory) -> int:
    db = memory._store._db  # the store's own connection: the write runs on it
    counted = [0]

    def count() -> int:
        counted[0] += STEP
        return 0  # go on

    db.set_progress_handler(count, STEP)
    try:
        memory.add("Ida Marsh repairs telescopes in Kessel.", id="new")
    finally:
        db.set_progress_handler(None, STEP)
    return counted[0]


def test_adding_a_note_costs_as_much_in_a_store_ten_times_larger(tmp_path, embedder, extractor):
    with (
        _store_of(tmp_path / "small", 300, embedder, extractor) as small,
        _store_of(tmp_path / "large", 3000, embedder, extractor) as large,
    ):
        in_small, in_large = _instructions_to_add_a_note(small), _instructions_to_add_a_note(large)
        # Reading the large store's 2,700 more passages once would cost over 20,000 more instructions.
        assert in_large < in_small + 2_000, (in_small, in_large)
        assert [hit.document_id for hit in large.query("telescopes in Kessel", method="bm25")] == ["new"]
