"""Retrieval on the sample corpus: multi-hop passages the graph finds and dense retrieval misses."""

from __future__ import annotations

import json

import pytest

FIRST_HOP_ONLY = [
    # (question naming only the first hop, first-hop document, second-hop document)
    ("Where was the founder of Brightwater Labs born?", "sample-01", "sample-02"),
]


@pytest.mark.parametrize("question,first_hop,second_hop", FIRST_HOP_ONLY)
def test_graph_finds_the_second_hop_that_dense_misses(sample_memory, question, first_hop, second_hop):
    graph = [h.document_id for h in sample_memory.query(question, k=5)]
    dense = [h.document_id for h in sample_memory.query(question, k=5, method="dense")]
    assert first_hop in graph and first_hop in dense
    assert second_hop in graph, graph
    assert second_hop not in dense, dense


def test_hits_explain_which_facts_and_entities_led_there(sample_memory):
    hits = sample_memory.query("Where was the founder of Brightwater Labs born?", k=5)
    holt = next(h for h in hits if h.document_id == "sample-02")
    facts = [str(f) for f in holt.explanation.seed_facts]
    assert "(Brightwater Labs, founded by, Mira Holt)" in facts
    assert "Mira Holt" in holt.explanation.seed_entities
    assert holt.explanation.path[0] == "Mira Holt"
    assert "Mira Holt" in str(holt.explanation)


def test_hits_carry_passage_document_title_text_and_descending_scores(sample_memory):
    hits = sample_memory.query("Which company builds ferries in Saltmarsh?", k=4)
    assert len(hits) == 4
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    top = hits[0]
    assert sample_memory.get(top.id).text == top.text
    assert top.document_id.startswith("sample-") and top.title
    json.dumps([h.to_dict() for h in hits])  # JSON-ready


def test_k_larger_than_the_store_returns_every_passage_once(sample_memory):
    hits = sample_memory.query("Estria", k=100)
    assert len(hits) == 36 == len({h.id for h in hits})


def test_dense_ranking_is_cosine_similarity(sample_memory, embedder):
    hits = sample_memory.query("a folk rock band", k=3, method="dense")
    assert hits[0].document_id == "sample-17"
    import numpy as np

    q = embedder.embed(["a folk rock band"])[0]
    p = embedder.embed([f"{hits[0].title}\n{hits[0].text}"])[0]
    assert hits[0].score == pytest.approx(float(np.dot(q, p)), abs=1e-5)


def test_hits_render_as_an_html_table_for_jupyter(sample_memory):
    html = sample_memory.query("Who designed the research vessel Gannet?", k=3)._repr_html_()
    assert html.startswith("<table>") and html.count("<tr>") == 4
