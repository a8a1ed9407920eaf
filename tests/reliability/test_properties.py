"""Property tests (hypothesis): random sequences of add, update, delete, revert, delete of a
namespace and export-import keep the store whole. After every step: nothing dangles (no orphan
entity or fact, no link to a missing note, no unused vector), SQLite's checks pass, and the store
holds exactly the notes a plain dict says it should, with their latest texts."""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from hippograph import Memory, SourceError, StoreError

from ..conftest import EVERY_RECORD
from ..invariants import dangling, records
from .children import sqlite_problems

PEOPLE = ["Mira Holt", "Ida Marsh", "Tom Reed"]
DEEDS = ["was born in", "moved to", "works in", "founded a lab in"]
PLACES = ["Veloria", "Kessel", "Port Averly"]
TEXTS = st.builds(
    lambda *parts: " ".join(parts) + ".", st.sampled_from(PEOPLE), st.sampled_from(DEEDS), st.sampled_from(PLACES)
)
IDS = st.sampled_from(["a", "b", "c", "d"])
NAMESPACES = st.sampled_from(["one", "two"])
TIME = "2024-05-01T12:00:00+00:00"
RUNS = settings(
    max_examples=12,
    stateful_step_count=10,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def test_random_sequences_of_writes_keep_the_store_whole(tmp_path, embedder, extractor):
    folders = (tmp_path / f"store{n}" for n in itertools.count())

    class Sequences(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.memory = self._open()
            self.expected: dict[tuple[str, str], tuple[str, str]] = {}  # (namespace, id) -> (note id, text)

        def _open(self) -> Memory:
            return Memory(next(folders), EVERY_RECORD, embedder=embedder, extractor=extractor)

        @rule(namespace=NAMESPACES, id=IDS, text=TEXTS)
        def add(self, namespace, id, text):
            known = self.expected.get((namespace, id))
            if known is not None and known[1] != text:
                try:
                    self.memory.add(text, id=id, namespace=namespace, timestamp=TIME)
                except SourceError:
                    return  # refused: "use update()"
                raise AssertionError("a changed text under a stored id was added, not refused")
            note = self.memory.add(text, id=id, namespace=namespace, timestamp=TIME)
            self.expected[(namespace, id)] = (note.id, text)

        @rule(namespace=NAMESPACES, id=IDS, text=TEXTS)
        def update(self, namespace, id, text):
            if (namespace, id) in self.expected:
                note_id = self.expected[(namespace, id)][0]
                self.memory.update(note_id, text, namespace=namespace)
                self.expected[(namespace, id)] = (note_id, text)

        @rule(namespace=NAMESPACES, id=IDS)
        def delete(self, namespace, id):
            if (namespace, id) in self.expected:
                self.memory.delete_note(self.expected.pop((namespace, id))[0], namespace=namespace)

        @rule(namespace=NAMESPACES, id=IDS, newest=st.booleans())
        def revert(self, namespace, id, newest):
            if (namespace, id) not in self.expected:
                return
            note_id = self.expected[(namespace, id)][0]
            changes = self.memory.history(note_id, namespace=namespace)
            if not changes:
                return
            change = changes[-1 if newest else 0]
            try:
                self.memory.revert(change.id, namespace=namespace)
            except StoreError:  # the same attribute changed again since: refused, nothing changed
                return
            self.expected[(namespace, id)] = (note_id, self.memory.get(note_id, namespace=namespace).text)

        @rule(namespace=NAMESPACES)
        def delete_namespace(self, namespace):
            if any(ns == namespace for ns, _ in self.expected):
                self.memory.delete_namespace(namespace)
                self.expected = {key: value for key, value in self.expected.items() if key[0] != namespace}

        @rule()
        def export_and_import(self):
            exported = next(folders).with_suffix(".jsonl")
            self.memory.export(exported)
            copy = self._open()
            copy.import_export(exported)
            assert records(copy) == records(self.memory)
            self.memory.close()
            self.memory = copy  # go on with the imported store

        @invariant()
        def whole(self):
            assert dangling(records(self.memory)) == []
            assert sqlite_problems(self.memory._store.path.parent) == []

        @invariant()
        def holds_what_was_written(self):
            for (namespace, _), (note_id, text) in self.expected.items():
                assert self.memory.get(note_id, namespace=namespace).text == text
            for namespace in ("one", "two"):
                assert self.memory.stats(namespace).documents == sum(ns == namespace for ns, _ in self.expected)

        def teardown(self):
            self.memory.close()

    run_state_machine_as_test(Sequences, settings=RUNS)
