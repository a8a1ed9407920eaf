"""A bulk import whose vectors were computed elsewhere: JSONL records with a "vector" (the real
embedding model made them here), stored as given instead of embedding the passages again."""

from __future__ import annotations

import json

import numpy as np
import pytest

import hippograph
from hippograph import Memory
from hippograph.errors import SourceError
from hippograph.sources import read_sources


class CountingEmbedder:
    """The real model, counting the texts it is asked to embed."""

    def __init__(self, model) -> None:
        self._model = model
        self.texts: list[str] = []

    @property
    def name(self) -> str:
        return self._model.name

    def embed(self, texts):
        self.texts += list(texts)
        return self._model.embed(texts)


def _records_with_vectors(embedder, scale: float = 3.0) -> list[dict]:
    records = [json.loads(line) for line in hippograph.sample_corpus().read_text().splitlines() if line.strip()]
    vectors = embedder.embed([f"{r['title']}\n{r['text']}" for r in records])
    return [{**r, "vector": (scale * v).tolist()} for r, v in zip(records, vectors)]  # scaled: stored at length 1


def _write(path, records) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


def test_given_vectors_are_stored_instead_of_embedding_and_rank_as_embedded_ones(
    tmp_path, embedder, extractor, sample_store
):
    corpus = tmp_path / "corpus.jsonl"
    _write(corpus, _records_with_vectors(embedder))
    counting = CountingEmbedder(embedder)

    with Memory(tmp_path / "bulk", embedder=counting, extractor=extractor) as bulk:
        report = bulk.ingest(corpus, progress=False)
        assert report.added == 36
        assert counting.texts == ["dimension"], "only the model's vector length is asked, no passage"
        with Memory(sample_store, embedder=embedder, extractor=extractor, read_only=True) as embedded:
            for question in ["Where was the founder of Brightwater Labs born?", "Which prize did Mira Holt win?"]:
                assert [h.id for h in bulk.query(question, 5)] == [h.id for h in embedded.query(question, 5)]
        ids, vectors = bulk._store.passage_vectors("default")
        assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_a_text_with_a_vector_stays_one_passage_and_a_new_vector_needs_the_old_deleted(
    tmp_path, embedder, extractor, caplog
):
    long_text = " ".join(f"Sentence {n} tells of the glassworks of Port Averly." for n in range(200))
    vector = embedder.embed([long_text])[0]
    corpus = tmp_path / "corpus.jsonl"
    _write(corpus, [{"id": "long", "text": long_text, "vector": vector.tolist()}])
    with Memory(tmp_path / "store", embedder=embedder, extractor=extractor) as memory:
        memory.ingest(corpus, progress=False)
        assert memory.stats().passages == 1, "a given vector stands for the whole text: not chunked"
        assert memory.ingest(corpus, progress=False).unchanged == 1, "the same record again changes nothing"

        _write(corpus, [{"id": "long", "text": long_text, "vector": (-vector).tolist()}])
        assert memory.ingest(corpus, progress=False).replaced == 1, "another vector is another document"
        assert "the stored ones are kept" in caplog.text
        assert np.allclose(memory._store.passage_vectors("default")[1][0], vector, atol=1e-6)

        memory.delete("long")
        memory.ingest(corpus, progress=False)
        assert np.allclose(memory._store.passage_vectors("default")[1][0], -vector, atol=1e-6)


@pytest.mark.parametrize("vector", [["a", "b"], [1.0, float("nan")], [], [0.0, 0.0], [[1.0], [2.0]], "1,2"])
def test_a_vector_that_is_not_finite_numbers_is_an_error_naming_its_line(tmp_path, vector):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(
        json.dumps({"id": "a", "text": "fine"}) + "\n" + json.dumps({"id": "b", "text": "x", "vector": vector})
    )
    with pytest.raises(SourceError, match="line 2: the 'vector' must be a list of finite numbers"):
        list(read_sources([corpus]))


@pytest.mark.parametrize("stored_first", [False, True])
def test_a_vector_of_another_length_stores_nothing_of_its_batch(tmp_path, embedder, extractor, stored_first):
    text = "Mira Holt was born in Veloria."
    corpus = tmp_path / "corpus.jsonl"
    with Memory(tmp_path / "store", embedder=embedder, extractor=extractor) as memory:
        if stored_first:  # the text's vector is stored: the given one is still checked
            memory.ingest([hippograph.Document(id="embedded", text=text)], progress=False)
        for wrong in ([0.5] * 12, [0.5]):
            _write(corpus, [{"id": "a", "text": text, "vector": wrong}])
            with pytest.raises(SourceError, match=f"has {len(wrong)} numbers, but the embedding model .* gives 384"):
                memory.ingest(corpus, progress=False)
            assert memory.stats().documents == int(stored_first)


def test_a_vector_of_huge_numbers_is_stored_at_length_1(tmp_path):
    corpus = tmp_path / "corpus.jsonl"
    _write(corpus, [{"id": "a", "text": "x", "vector": [1e20, -1e20, 0.0]}])
    (document,) = read_sources([corpus])
    assert document.vector.dtype == np.float32
    assert np.allclose(document.vector, [2**-0.5, -(2**-0.5), 0.0])
