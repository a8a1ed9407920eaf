"""Reading inputs: JSONL/JSON/.txt/.md files, folders, and the errors bad input gets."""

from __future__ import annotations

import json

import pytest

from hippograph import Document, SourceError
from hippograph.chunking import chunk_text
from hippograph.sources import read_sources

from .conftest import SHARED, write_jsonl


def test_jsonl_records_become_documents_with_ids_titles_and_metadata(tmp_path):
    path = write_jsonl(
        tmp_path / "c.jsonl",
        [
            {"id": "a", "title": "A", "text": "Alpha.", "metadata": {"year": 1}},
            {"id": 7, "text": "Seven."},
            {"text": "No id here."},
        ],
    )
    docs = read_sources(path)
    assert [d.id for d in docs][:2] == ["a", "7"]
    assert docs[0].title == "A" and docs[0].metadata == {"year": 1}
    assert docs[2].id and docs[2].id == read_sources(path)[2].id  # content hash: stable


def test_broken_jsonl_line_is_named_in_the_error(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text('{"id": "a", "text": "ok"}\n\n{"id": "b", "text": "oops"\n', encoding="utf-8")
    with pytest.raises(SourceError, match=r"c\.jsonl line 3: invalid JSON"):
        read_sources(path)


def test_record_without_text_is_an_error_naming_the_line(tmp_path):
    path = write_jsonl(tmp_path / "c.jsonl", [{"id": "a", "text": "ok"}, {"id": "b", "body": "x"}])
    with pytest.raises(SourceError, match="line 2: the 'text' field"):
        read_sources(path)


def test_non_utf8_file_is_a_clear_error(tmp_path):
    path = tmp_path / "latin.txt"
    path.write_bytes("Café in Zürich".encode("latin-1"))
    with pytest.raises(SourceError, match=r"latin\.txt is not UTF-8 text \(byte 0xe9"):
        read_sources(path)


def test_jsonl_is_read_line_by_line_with_a_bom_crlf_and_a_bad_byte_named_by_offset(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"id": "a", "text": "first"}\r\n\r\n{"id": "b", "text": "second"}\r\n')
    assert [(d.id, d.text) for d in read_sources(path)] == [("a", "first"), ("b", "second")]
    good = b'{"id": "a", "text": "ok"}\n'
    path.write_bytes(good + '{"id": "b", "text": "Café"}\n'.encode("latin-1"))
    offset = len(good) + len('{"id": "b", "text": "Caf')
    with pytest.raises(SourceError, match=rf"c\.jsonl is not UTF-8 text \(byte 0xe9 at offset {offset}\)"):
        read_sources(path)


def test_folder_reads_text_markdown_and_records_in_name_order(tmp_path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "b.md").write_text("# Bee title\nBody of b.", encoding="utf-8")
    (tmp_path / "a.txt").write_text("Body of a.", encoding="utf-8")
    write_jsonl(tmp_path / "c.jsonl", [{"id": "c1", "text": "Body of c."}])
    (tmp_path / "ignored.csv").write_text("x,y", encoding="utf-8")
    docs = read_sources(tmp_path)
    assert [d.id for d in docs] == ["a.txt", "c1", "notes/b.md"]
    assert docs[2].title == "Bee title"


def test_json_file_with_a_list_of_records(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps([{"id": "x", "text": "X."}, {"id": "y", "text": "Y."}]), encoding="utf-8")
    assert [d.id for d in read_sources(path)] == ["x", "y"]


def test_missing_path_and_unsupported_file_are_errors(tmp_path):
    with pytest.raises(SourceError, match="no such file"):
        read_sources(tmp_path / "missing.jsonl")
    (tmp_path / "x.csv").write_text("a", encoding="utf-8")
    with pytest.raises(SourceError, match="unsupported file type"):
        read_sources(tmp_path / "x.csv")


def test_strings_and_documents_are_taken_as_given():
    docs = read_sources(["plain text", Document(text="t", id="given")])
    assert docs[0].text == "plain text" and docs[1].id == "given"


def test_short_text_is_one_chunk_unchanged_and_long_text_is_split_at_sentences():
    assert chunk_text("  One sentence.  ", 50) == ["One sentence."]
    long = " ".join(f"Sentence number {i} is here." for i in range(100))
    chunks = chunk_text(long, 50)
    assert len(chunks) > 1
    assert all(len(c.split()) <= 50 for c in chunks)
    assert all(c.endswith(".") for c in chunks)
    assert " ".join(chunks).split() == long.split()  # nothing lost
    assert chunk_text("   \n ", 50) == []


@pytest.mark.skipif(not (SHARED / "2wikimultihopqa").exists(), reason="needs ../shared/datasets (present in CI)")
def test_reads_the_whole_2wiki_corpus():
    docs = read_sources(SHARED / "2wikimultihopqa" / "corpus.jsonl")
    assert len(docs) == 6119
    assert len({d.id for d in docs}) == 6119


def test_text_without_spaces_is_cut_into_bounded_chunks():
    blob = "x" * 50_000
    chunks = chunk_text(blob, 50)
    assert all(len(c) <= 50 * 40 for c in chunks)
    assert "".join(c.replace(" ", "") for c in chunks) == blob
