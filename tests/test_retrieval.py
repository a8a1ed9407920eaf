"""Retrieval on the sample corpus: multi-hop passages the graph finds and dense retrieval misses."""

from __future__ import annotations

import json

import pytest

import hippograph
from hippograph import Memory

# Questions that name only the first hop of a chain in the sample corpus, with the passages of
# the later hops (document ids).
CHAINS = [
    ("Where was the founder of Brightwater Labs born?", ["sample-02", "sample-03"]),
    ("Which club did the husband of Ida Marsh play for?", ["sample-19", "sample-20"]),
    ("Where was the founder of Orlen Works born?", ["sample-24", "sample-16"]),
    ("In which province is the town where Mira Holt was born?", ["sample-03", "sample-04"]),
    (
        "In which city is the university where the author of The Salt Orchard taught?",
        ["sample-14", "sample-15", "sample-16"],
    ),
    ("Who founded the shipyard that built the ferries of Silverline Ferries?", ["sample-23", "sample-24"]),
    ("Who founded the organisation that awards the Kestrel Prize?", ["sample-11", "sample-12"]),
    ("Where was the shipowner who created the Aurel Foundation born?", ["sample-12", "sample-26"]),
    ("Who founded the company that cast the mirror of the Dunmere Observatory?", ["sample-01", "sample-02"]),
    ("Which vessel did the mayor of Port Averly captain?", ["sample-09", "sample-25"]),
    ("Who is married to the lead singer of The Lanterns of Vey?", ["sample-18", "sample-19"]),
]
SECOND_HOP_CASES = [  # (question, the next-hop passage the graph must find and dense retrieval misses)
    (CHAINS[0][0], "sample-02"),  # Brightwater Labs -> Mira Holt
    (CHAINS[1][0], "sample-19"),  # Ida Marsh -> Jonas Pell
    (CHAINS[2][0], "sample-24"),  # Orlen Works -> Petra Lind
    (CHAINS[3][0], "sample-03"),  # Mira Holt -> Veloria
    (CHAINS[4][0], "sample-15"),  # The Salt Orchard -> Tobias Renn -> Calder University (3 hops)
]


@pytest.mark.parametrize("question,hop", SECOND_HOP_CASES)
def test_graph_finds_the_next_hop_that_dense_misses(sample_memory, question, hop):
    graph = [h.document_id for h in sample_memory.query(question, k=5)]
    dense = [h.document_id for h in sample_memory.query(question, k=5, method="dense")]
    assert hop in graph, graph
    assert hop not in dense, dense


def test_graph_recalls_more_chain_passages_than_dense_over_all_chains(sample_memory):
    found = {"hippograph": 0, "dense": 0}
    for question, hops in CHAINS:
        for method in found:
            top = {h.document_id for h in sample_memory.query(question, k=5, method=method)}
            found[method] += len(top & set(hops))
    assert found["hippograph"] > found["dense"], found


def test_hits_explain_which_question_entity_and_path_led_there(sample_memory):
    hits = sample_memory.query("Where was the founder of Brightwater Labs born?", k=5)
    holt = next(h for h in hits if h.document_id == "sample-02")
    assert holt.explanation.question_entities == ("Brightwater Labs",)
    assert holt.explanation.seed_facts == ()  # fact linking is off by default
    assert holt.explanation.path[:3] == ("Brightwater Labs", "(founded by)", "Mira Holt")
    assert str(holt.explanation).startswith("the question names Brightwater Labs; Brightwater Labs -> (founded by)")


def test_fact_linking_seeds_from_the_facts_most_similar_to_the_question(sample_store, embedder, extractor):
    # the sample store was ingested with fact_weight > 0, so its facts have vectors
    with Memory(sample_store, hippograph.Config(fact_weight=0.1), embedder=embedder, extractor=extractor) as memory:
        hits = memory.query("Where was the founder of Brightwater Labs born?", k=5)
    assert "(Brightwater Labs, founded by, Mira Holt)" in [str(f) for f in hits[0].explanation.seed_facts]
    assert "sample-02" in [h.document_id for h in hits]


def test_without_fact_linking_ingest_embeds_no_facts(make_memory):
    memory = make_memory()
    memory.ingest("Mira Holt founded Brightwater Labs.", progress=False)
    assert memory.stats().facts == 1
    assert memory.stats().embeddings == 1  # the passage only


def test_fact_linking_on_a_store_without_fact_vectors_warns_and_still_answers(tmp_path, embedder, extractor, caplog):
    with Memory(tmp_path / "s", embedder=embedder, extractor=extractor) as memory:
        memory.ingest(["Mira Holt founded Brightwater Labs.", "Mira Holt was born in Veloria."], progress=False)
    with Memory(tmp_path / "s", hippograph.Config(fact_weight=0.1), embedder=embedder, extractor=extractor) as memory:
        hits = memory.query("Where was the founder of Brightwater Labs born?", k=2)
    assert len(hits) == 2 and hits[0].explanation.seed_facts == ()
    assert "no stored fact has a vector" in caplog.text


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


def _query_with(store, embedder, extractor, question: str, **config) -> hippograph.Hits:
    with Memory(store, hippograph.Config(**config), embedder=embedder, extractor=extractor, read_only=True) as memory:
        return memory.query(question, k=5)


def test_the_local_pagerank_ranks_and_explains_like_the_global_solver(sample_store, embedder, extractor):
    for question, _ in CHAINS:
        local = _query_with(
            sample_store,
            embedder,
            extractor,
            question,
            ppr_solver="local",
            seed_passages=10_000,
            ppr_push_epsilon=1e-12,
        )
        exact = _query_with(sample_store, embedder, extractor, question, ppr_solver="global", ppr_tolerance=1e-12)
        assert [h.id for h in local] == [h.id for h in exact], question
        assert [h.score for h in local] == pytest.approx([h.score for h in exact], abs=1e-9)
        assert [h.explanation for h in local] == [h.explanation for h in exact]


@pytest.mark.parametrize("question,hop", SECOND_HOP_CASES)
def test_the_local_pagerank_from_a_few_seeded_passages_finds_the_next_hop(
    sample_store, embedder, extractor, question, hop
):
    hits = _query_with(sample_store, embedder, extractor, question, ppr_solver="local", seed_passages=3)
    assert hop in [h.document_id for h in hits]


def test_the_local_pagerank_gives_k_hits_when_its_push_reaches_fewer(sample_store, embedder, extractor):
    """The top k come from the passages the push reached; when it reached fewer than k, the
    rest are the unreached passages in slot order, as the global ranking's zero scores are."""
    config = hippograph.Config(ppr_solver="local", seed_passages=1, query_entity_weight=0.0)
    with Memory(sample_store, config, embedder=embedder, extractor=extractor, read_only=True) as memory:
        few, every = memory.query("Estria", k=3), memory.query("Estria", k=100)
    assert len(every) == 36 == len({h.id for h in every}) and any(h.score == 0 for h in every)
    assert [h.id for h in few] == [h.id for h in every[:3]] and all(h.score > 0 for h in few)
