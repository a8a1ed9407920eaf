"""Importing triples another tool extracted: both file formats, matching, and bad triples."""

from __future__ import annotations

import json
import logging
import sqlite3

import pytest

from hippograph import Memory, SourceError
from hippograph.cli import main
from hippograph.extract import PrecomputedExtractor
from hippograph.types import Passage, Triple

from .conftest import SHARED, write_jsonl

CORPUS = [
    {"id": "p1", "title": "Brightwater Labs", "text": "Brightwater Labs was founded by Mira Holt."},
    {"id": "p2", "title": "Mira Holt", "text": "Mira Holt was born in Veloria."},
]
TRIPLES = [
    {
        "id": "p1",
        "extracted_entities": ["Brightwater Labs", "Mira Holt"],
        "extracted_triples": [["Brightwater Labs", "founded by", "Mira Holt"], ["only two", "parts"], ["x", "", "y"]],
    },
    {
        "id": "p2",
        "extracted_entities": ["Mira Holt", "Veloria"],
        "extracted_triples": [["Mira Holt", "born in", "Veloria"], "not a list", [1, 2, 3]],
    },
]


def passage(doc_id, title, text):
    return Passage(f"id-{doc_id}", doc_id, 0, title, text)


def test_jsonl_triples_match_by_document_id_and_bad_triples_are_counted(tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    extractor = PrecomputedExtractor(write_jsonl(tmp_path / "t.jsonl", TRIPLES))
    first, second, missing = extractor.extract(
        [
            passage("p1", "Brightwater Labs", "whatever text"),
            passage("p2", "Mira Holt", "whatever text"),
            passage("p3", "Unknown", "no triples here"),
        ]
    )
    assert first.triples == [Triple("Brightwater Labs", "founded by", "Mira Holt")]
    assert second.entities == ["Mira Holt", "Veloria"]
    assert missing.triples == [] and missing.entities == []
    assert extractor.skipped_triples == 4
    assert "skipped 4 triple(s) of the wrong shape" in caplog.text
    assert "no triples for 1 passage" in caplog.text


def test_hipporag_openie_json_matches_by_passage_text(tmp_path):
    path = tmp_path / "openie_results.json"
    path.write_text(
        json.dumps(
            {
                "docs": [
                    {
                        "idx": 0,
                        "passage": "Mira Holt\nMira Holt was  born in Veloria.",
                        "extracted_entities": ["Mira Holt"],
                        "extracted_triples": [["Mira Holt", "born in", "Veloria"]],
                    },
                    {
                        "idx": 1,
                        "passage": "Veloria is in Norland.",
                        "extracted_entities": [],
                        "extracted_triples": [["Veloria", "is in", "Norland"]],
                    },
                ]
            }
        ),
        encoding="utf-8",
    )
    extractor = PrecomputedExtractor(path)
    titled, plain = extractor.extract(
        [
            passage("a", "Mira Holt", "Mira Holt was born in Veloria."),  # whitespace differs: still matched
            passage("b", "", "Veloria is in Norland."),
        ]
    )
    assert titled.triples == [Triple("Mira Holt", "born in", "Veloria")]
    assert plain.triples == [Triple("Veloria", "is in", "Norland")]


def test_broken_triples_files_are_clear_errors(tmp_path):
    broken = tmp_path / "t.jsonl"
    broken.write_text('{"id": "p1", "extracted_triples": []}\n{"id": \n', encoding="utf-8")
    with pytest.raises(SourceError, match=r"t\.jsonl line 2: invalid JSON"):
        PrecomputedExtractor(broken)
    with pytest.raises(SourceError, match="no such triples file"):
        PrecomputedExtractor(tmp_path / "missing.jsonl")
    anonymous = write_jsonl(tmp_path / "a.jsonl", [{"extracted_triples": []}])
    with pytest.raises(SourceError, match="needs an 'id' or a 'passage'"):
        PrecomputedExtractor(anonymous)


def test_ingest_with_imported_triples_builds_the_graph_from_them(tmp_path, embedder):
    extractor = PrecomputedExtractor(write_jsonl(tmp_path / "t.jsonl", TRIPLES))
    corpus = write_jsonl(tmp_path / "corpus.jsonl", CORPUS)
    with Memory(tmp_path / "store", embedder=embedder, extractor=extractor) as memory:
        memory.ingest(corpus, progress=False)
        with sqlite3.connect(memory.stats().path) as db:
            facts = sorted(
                db.execute(
                    "SELECT s.name, f.relation, o.name FROM facts f JOIN entities s ON s.id = f.subject_id "
                    "JOIN entities o ON o.id = f.object_id"
                )
            )
        assert facts == [("Brightwater Labs", "founded by", "Mira Holt"), ("Mira Holt", "born in", "Veloria")]
        hits = memory.query("Where was the founder of Brightwater Labs born?", k=2)
        assert {h.document_id for h in hits} == {"p1", "p2"}


def test_cli_ingest_with_triples(tmp_path, capsys):
    corpus = write_jsonl(tmp_path / "corpus.jsonl", CORPUS)
    triples = write_jsonl(tmp_path / "t.jsonl", TRIPLES)
    assert main(["ingest", str(corpus), "--store", str(tmp_path / "s"), "--triples", str(triples), "--quiet"]) == 0
    assert "facts +2" in capsys.readouterr().out


@pytest.mark.skipif(not (SHARED / "musique").exists(), reason="needs ../shared/datasets (present in CI)")
def test_musique_triples_file_covers_every_corpus_passage():
    extractor = PrecomputedExtractor(SHARED / "musique" / "openie-gpt-3.5-turbo-1106.jsonl")
    corpus = [json.loads(line) for line in (SHARED / "musique" / "corpus.jsonl").read_text().splitlines()]
    results = extractor.extract([passage(r["id"], r["title"], r["text"]) for r in corpus])
    assert extractor.unmatched_passages == 0
    assert sum(len(r.triples) for r in results) > 15_000
