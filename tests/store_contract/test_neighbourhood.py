"""Queries that read only the neighbourhood of their seeds (Config.graph_reads), on SQLite and on a
real Bolt server: what the store reads, against a breadth-first search over the whole graph, and
what a user gets, against the whole graph's ranking."""

from __future__ import annotations

import numpy as np
import pytest

import hippograph
from hippograph import Config
from hippograph.errors import ConfigError
from hippograph.graph.neighbourhood import named_entities
from hippograph.retrieve.lexical import search_terms

from .conftest import INDEXED, memory_opener

SETTINGS = Config(synonym_threshold=0.8)  # synonyms, and no fact linking (it needs the whole graph)
QUESTIONS = [
    "Where was the founder of Brightwater Labs born?",
    "Which prize did Mira Holt win?",
    "What does the company in Port Averly make?",
    "Which province is Veloria in?",
    "Who studied chemistry at the Lumen Institute?",
]


@pytest.fixture(params=["sqlite", "bolt", INDEXED])
def open_memory(request, tmp_path, embedder, extractor):
    yield from memory_opener(request, tmp_path, embedder, extractor)


@pytest.fixture
def sample(open_memory):
    memory = open_memory("store", SETTINGS)
    memory.ingest(hippograph.sample_corpus(), progress=False)
    return memory


def _expected(data, entity_seeds: set[int], passage_seeds: set[int], hops: int, max_passages: int):
    """The neighbourhood by store/neighbourhood.py's rule, found by breadth-first search over the
    whole graph's arrays: node ids, and the edges with an end whose edges were followed."""
    entities = len(data.entity_ids)
    ends = {
        "mention": list(zip(data.mention_passages + entities, data.mention_entities)),
        "fact": list(zip(data.fact_subjects, data.fact_objects)),
        "synonym": list(zip(data.synonym_a, data.synonym_b)),
        "link": list(zip(data.link_a + entities, data.link_b + entities)),
    }
    mentioned = np.bincount(data.mention_entities, minlength=entities)
    neighbours: dict[int, set[int]] = {}
    for pairs in ends.values():
        for a, b in pairs:
            neighbours.setdefault(int(a), set()).add(int(b))
            neighbours.setdefault(int(b), set()).add(int(a))
    nodes = set(entity_seeds) | {p + entities for p in passage_seeds}
    frontier, followed = set(nodes), set()
    for _ in range(hops):
        room = max_passages - sum(n >= entities for n in nodes)
        expanded = {n for n in frontier if n >= entities}
        for entity in sorted((n for n in frontier if n < entities), key=lambda n: (mentioned[n], data.entity_ids[n])):
            room -= mentioned[entity]
            if room < 0:
                break
            expanded.add(entity)
        followed |= expanded
        frontier = {m for n in expanded for m in neighbours.get(n, ())} - nodes
        nodes |= frontier
    edges = {
        kind: {(int(a), int(b)) for a, b in pairs if {a, b} <= nodes and (a in followed or b in followed)}
        for kind, pairs in ends.items()
    }
    return nodes, edges


def _ids(data, node: int) -> str:
    entities = len(data.entity_ids)
    return data.entity_ids[node] if node < entities else data.passage_ids[node - entities]


@pytest.mark.parametrize(("hops", "max_passages"), [(1, 200), (2, 200), (2, 12), (3, 15)])
def test_the_store_reads_the_nodes_within_the_hops_specific_entities_first(sample, hops, max_passages):
    store = sample._store
    whole = store.graph_data("default")
    entities = len(whole.entity_ids)
    named = {entity for entity, name in enumerate(whole.entity_names) if name == "Mira Holt"}
    seeds = {0, 5}
    assert named, "the sample names Mira Holt"
    nodes, edges = _expected(whole, named, seeds, hops, max_passages)

    graph, counts = store.neighbourhood(
        "default", [whole.entity_ids[e] for e in named], [whole.passage_ids[p] for p in seeds], hops, max_passages
    )

    assert set(graph.entity_ids) | set(graph.passage_ids) == {_ids(whole, n) for n in nodes}
    assert graph.passage_vectors.shape[1] == 0, "no vector crosses the network"
    got = {
        "mention": set(zip(graph.mention_passages + len(graph.entity_ids), graph.mention_entities)),
        "fact": set(zip(graph.fact_subjects, graph.fact_objects)),
        "synonym": set(zip(graph.synonym_a, graph.synonym_b)),
        "link": set(zip(graph.link_a + len(graph.entity_ids), graph.link_b + len(graph.entity_ids))),
    }
    for kind in got:
        assert {(_ids(graph, a), _ids(graph, b)) for a, b in got[kind]} == {
            (_ids(whole, a), _ids(whole, b)) for a, b in edges[kind]
        }, kind
    mentioned = np.bincount(whole.mention_entities, minlength=entities)
    for entity in named:
        assert counts[whole.entity_ids[entity]] == mentioned[entity], "a seed's count is exact"
    for entity_id in graph.entity_ids:
        exact = mentioned[whole.entity_ids.index(entity_id)]
        assert counts.get(entity_id, 0) in (exact, min(exact, max_passages + 1)), "a count may stop past the budget"


def test_a_neighbourhood_query_ranks_as_the_whole_graph_and_never_reads_it(sample, open_memory, monkeypatch, request):
    reference = open_memory("store", Config(synonym_threshold=0.8, graph_reads="whole"))
    whole = {q: reference.query(q, 3) for q in QUESTIONS}
    reader = open_memory("store", Config(synonym_threshold=0.8, graph_reads="neighbourhood"))
    monkeypatch.setattr(reader._store, "graph_data", _refuse)

    for question in QUESTIONS:
        hits = reader.query(question, 3)
        assert [h.id for h in hits] == [h.id for h in whole[question]], question
        assert hits[0].explanation.method == "hippograph"
        assert hits[0].score == pytest.approx(whole[question][0].score, rel=0.2)
    for method in ("dense", "hybrid"):
        got, expected = (m.query(QUESTIONS[0], 3, method=method) for m in (reader, reference))
        assert [h.id for h in got] == [h.id for h in expected], method
        assert [h.score for h in got] == pytest.approx([h.score for h in expected], abs=1e-5), method
    held = reader.graph_views.get("default").data.passage_vectors.shape[1]
    in_server = request.node.callspec.params["open_memory"] == INDEXED
    assert held == (0 if in_server else 384), "a client of a server's vector index holds no passage vector"


def test_a_question_in_lower_case_reads_around_the_entities_its_rare_words_name(sample):
    store, question = sample._store, "which prize did mira holt win?"

    def rare_terms(at_most: int) -> list[str]:
        found = store.rare_terms("default", search_terms(question), at_most)
        if found is None:  # a graph server keeps no full-text index: the client's
            found = sample.graph_views.lexical_index("default", store).rare_terms(search_terms(question), at_most)
        return found

    assert rare_terms(2) == ["prize", "win"]  # "mira" and "holt" are in 3 of the sample's notes
    rare = rare_terms(3)
    assert rare == ["prize", "mira", "holt", "win"]
    capitalised = named_entities(store, "default", "Which prize did Mira Holt win?")
    assert capitalised and named_entities(store, "default", question, lambda: rare) == capitalised
    assert named_entities(store, "default", question) == []


def test_a_neighbourhood_query_follows_writes_deletes_and_time(sample, open_memory):
    reader = open_memory("store", Config(synonym_threshold=0.8, graph_reads="neighbourhood"))
    question = "Where was the founder of Brightwater Labs born?"
    first = reader.query(question, 3)
    assert first

    sample.delete(first[0].document_id)
    assert first[0].id not in [h.id for h in reader.query(question, 3)]

    sample.ingest(
        [hippograph.Document(id="new", text="Brightwater Labs opened a second plant in Quarry Bend in 2021.")],
        progress=False,
    )
    assert "Quarry Bend" in " ".join(h.text for h in reader.query("Where did Brightwater Labs open a plant?", 3))


def test_a_neighbourhood_query_finds_k_hits_in_a_time_window_far_from_its_nearest(sample, open_memory):
    """The nearest passages are outside the window: seeds are taken inside it too, and as many as k."""
    old_news = [
        hippograph.Document(id=f"old-{n}", text=text, timestamp=f"2001-05-0{n + 1}T00:00:00Z")
        for n, text in enumerate(
            [
                "Kestrel Prize judges met in Norland in 2001.",
                "A glass museum opened in Veloria in 2001.",
                "Port Averly harbour was dredged in 2001.",
            ]
        )
    ]
    sample.ingest(old_news, progress=False)
    reader = open_memory("store", Config(synonym_threshold=0.8, graph_reads="neighbourhood", neighbourhood_seeds=2))
    window = {"until": "2002-01-01"}
    whole = [h.id for h in sample.query("Which prize did Mira Holt win?", 3, **window)]
    assert [h.id for h in reader.query("Which prize did Mira Holt win?", 3, **window)] == whole
    assert {h.document_id for h in reader.query("Which prize did Mira Holt win?", 3, **window)} <= {
        d.id for d in old_news
    }
    many = reader.query("What does the company in Port Averly make?", 30)
    assert len(many) == 30, "a neighbourhood holds at least k passages"
    assert [h.id for h in many][:3] == [h.id for h in sample.query("What does the company in Port Averly make?", 3)]


def test_a_neighbourhood_never_reaches_another_namespace(sample, open_memory):
    sample.ingest(
        [hippograph.Document(id="secret", text="Mira Holt hid the Kestrel Prize in Quarry Bend.", namespace="other")],
        progress=False,
    )
    reader = open_memory("store", Config(synonym_threshold=0.8, graph_reads="neighbourhood"))
    hits = reader.query("Where did Mira Holt hide the Kestrel Prize?", 36)
    assert hits and "Quarry Bend" not in " ".join(h.text for h in hits)
    other = reader.query("Where did Mira Holt hide the Kestrel Prize?", 5, namespace="other")
    assert [h.document_id for h in other] == ["secret"]


def test_auto_reads_neighbourhoods_on_a_graph_server_without_fact_linking(open_memory, request):
    on_server = request.node.callspec.params["open_memory"] != "sqlite"
    assert open_memory("a", SETTINGS).graph_views.passages_only is on_server
    assert not open_memory("b", Config(fact_weight=0.1)).graph_views.passages_only
    assert not open_memory("c", Config(graph_reads="whole")).graph_views.passages_only


def test_settings_that_cannot_read_neighbourhoods_are_refused():
    with pytest.raises(ConfigError, match="fact linking"):
        Config(graph_reads="neighbourhood", fact_weight=0.1)
    with pytest.raises(ConfigError, match="graph_reads"):
        Config(graph_reads="some")
    with pytest.raises(ConfigError, match="neighbourhood_hops"):
        Config(neighbourhood_hops=0)


def _refuse(namespace):
    raise AssertionError(f"the whole graph of {namespace!r} was read")


def test_exports_and_topics_of_a_neighbourhood_reader_read_one_whole_graph(sample, open_memory):
    reader = open_memory("store", Config(synonym_threshold=0.8, graph_reads="neighbourhood"))
    exported = reader.to_networkx()
    assert sorted(exported.nodes) == sorted(sample.to_networkx().nodes)
    assert [t.entities for t in reader.topics()] == [t.entities for t in sample.topics()]
    whole = reader.graph_views.whole
    assert whole is reader.graph_views.whole and not whole.passages_only, "memories sharing views share it"
