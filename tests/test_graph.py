"""The graph as users see it: a query's subgraph, its drawing, whole-graph exports to networkx,
igraph, GraphML and GEXF, topics, and hippograph's PageRank checked against igraph's."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import igraph
import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp

from hippograph import QueryError
from hippograph.graph.adjacency import Adjacency
from hippograph.graph.export import EDGE_KINDS
from hippograph.graph.ppr import PageRank
from hippograph.graph.relations import Relations
from hippograph.store.graph_data import GraphData, GraphVersion

DEMO_QUESTION = "Where was the founder of Brightwater Labs born?"
HIPPOGRAPH = [sys.executable, "-m", "hippograph.cli"]


def test_subgraph_holds_the_seed_the_hits_and_the_paths_between(sample_memory):
    hits = sample_memory.query(DEMO_QUESTION, k=5)
    graph = sample_memory.subgraph(DEMO_QUESTION, k=5)
    assert isinstance(graph, nx.MultiDiGraph)
    seeds = [n for n, a in graph.nodes(data=True) if a["kind"] == "entity" and a["seed"] > 0]
    assert [graph.nodes[n]["name"] for n in seeds] == ["Brightwater Labs"]
    returned = {n: a for n, a in graph.nodes(data=True) if a.get("rank")}
    assert [returned[h.id]["rank"] for h in hits] == [1, 2, 3, 4, 5]
    assert [returned[h.id]["score"] for h in hits] == pytest.approx([h.score for h in hits])
    mira = next(a for a in returned.values() if "born in Veloria" in a["text"])
    assert mira["kind"] == "passage" and mira["title"] == "Mira Holt"
    undirected = graph.to_undirected(as_view=True)
    assert all(nx.has_path(undirected, seeds[0], passage) for passage in returned)
    for _, attributes in graph.nodes(data=True):
        assert attributes["score"] >= 0 and attributes["label"]
        assert ("name" in attributes) == (attributes["kind"] == "entity")
    kinds = {a["kind"] for _, _, a in graph.edges(data=True)}
    assert kinds <= set(EDGE_KINDS) and {"fact", "mention"} <= kinds
    assert any(a.get("relation") == "founded by" for _, _, a in graph.edges(data=True))


def test_subgraph_holds_a_path_through_a_passage_the_query_did_not_return(make_memory):
    memory = make_memory()
    memory.add("Dinner guests, in order of arrival. First Orla Venn. Then Tobias Crane.", timestamp="2020-01-01")
    memory.add("Tobias Crane repaired the lighthouse lamp.", timestamp="2024-01-01")
    # The window keeps the guest list out of the hits; the walk still goes through it.
    hits = memory.query("What did the dinner guest of Orla Venn repair?", k=1, since="2023-01-01")
    graph = hits.subgraph()
    passages = {a["text"]: a for _, a in graph.nodes(data=True) if a["kind"] == "passage"}
    assert set(passages) == {
        "Tobias Crane repaired the lighthouse lamp.",
        "Dinner guests, in order of arrival. First Orla Venn. Then Tobias Crane.",
    }
    assert [a.get("rank") for a in passages.values()].count(1) == 1


def test_drawing_is_a_figure_the_same_each_time_and_shows_with_the_hits(sample_memory):
    from matplotlib.figure import Figure

    from hippograph.viz import draw, to_svg

    graph = sample_memory.subgraph(DEMO_QUESTION)
    figure = draw(graph)
    assert isinstance(figure, Figure) and figure._repr_svg_().startswith("<svg")  # Jupyter shows it
    assert to_svg(graph) == to_svg(graph) and "Brightwater Labs" in to_svg(graph)
    page = sample_memory.query(DEMO_QUESTION)._repr_html_()
    assert page.startswith("<table>") and "<svg" in page and "Mira Holt" in page
    dense = sample_memory.query(DEMO_QUESTION, method="dense")
    assert all(a["kind"] == "passage" for _, a in dense.subgraph().nodes(data=True))
    with pytest.raises(QueryError):
        type(dense)().subgraph()


def test_whole_graph_in_networkx_and_igraph_matches_the_store(sample_memory):
    stats = sample_memory.stats()
    graph = sample_memory.to_networkx()
    kinds = [a["kind"] for _, a in graph.nodes(data=True)]
    assert kinds.count("passage") == stats.passages and kinds.count("entity") == stats.entities
    edge_kinds = [a["kind"] for _, _, a in graph.edges(data=True)]
    assert edge_kinds.count("mention") == stats.mentions and edge_kinds.count("synonym") == stats.synonym_edges
    assert 0 < edge_kinds.count("fact") <= stats.facts  # a fact about itself is no edge
    converted = sample_memory.to_igraph()
    assert isinstance(converted, igraph.Graph) and converted.is_directed()
    assert (converted.vcount(), converted.ecount()) == (graph.number_of_nodes(), graph.number_of_edges())
    assert set(converted.vs["id"]) == set(graph.nodes)
    assert sorted(converted.es["kind"]) == sorted(edge_kinds)
    assert sample_memory.to_networkx(namespace="nobody").number_of_nodes() == 0


def test_graph_export_writes_graphml_and_gexf_that_networkx_reads_back(sample_memory, tmp_path):
    sample_memory.add("A note with a control character \x01 in it.", namespace="odd")
    store = str(sample_memory._store.path.parent)
    expected = sample_memory.to_networkx()
    done = subprocess.run(
        [*HIPPOGRAPH, "graph", "export", "--store", store, "-o", str(tmp_path / "g.graphml")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    back = nx.read_graphml(tmp_path / "g.graphml")
    assert (back.number_of_nodes(), back.number_of_edges()) == (expected.number_of_nodes(), expected.number_of_edges())
    some = next(n for n, a in expected.nodes(data=True) if a["kind"] == "passage")
    assert back.nodes[some]["text"] == expected.nodes[some]["text"]
    done = subprocess.run(
        [*HIPPOGRAPH, "graph", "export", "--store", store, "--namespace", "odd", "-o", str(tmp_path / "odd.gexf")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    odd = nx.read_gexf(tmp_path / "odd.gexf")
    texts = [a.get("text") for _, a in odd.nodes(data=True) if a.get("kind") == "passage"]
    assert texts == ["A note with a control character \ufffd in it."]


def test_topics_are_communities_found_the_same_way_each_time(sample_memory):
    topics = sample_memory.topics()
    assert len(topics) >= 2 and topics == sample_memory.topics()
    assert [t.size for t in topics] == sorted((t.size for t in topics), reverse=True)
    names = {a["name"] for _, a in sample_memory.to_networkx().nodes(data=True) if a["kind"] == "entity"}
    assert all(t.size >= 2 and t.entities and set(t.entities) <= names for t in topics)
    assert sum(t.passages for t in topics) <= sample_memory.stats().passages
    together = next(t for t in topics if "Brightwater Labs" in t.entities)
    assert "Mira Holt" in together.entities  # the founder and her company are one topic
    store = str(sample_memory._store.path.parent)
    done = subprocess.run(
        [*HIPPOGRAPH, "topics", "--store", store, "--json"], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert [t["entities"] for t in json.loads(done.stdout)] == [list(t.entities) for t in topics]


@pytest.mark.parametrize("damping", [0.5, 0.85])
def test_pagerank_equals_igraphs_on_the_sample_graph(sample_memory, damping):
    converted = sample_memory.to_igraph()
    edges = np.array(converted.get_edgelist())
    weights = np.array(converted.es["weight"])
    n = converted.vcount()
    upper = sp.coo_matrix((weights, (edges[:, 0], edges[:, 1])), shape=(n, n))
    adjacency = (upper + upper.T).tocsr()  # the retriever walks every edge both ways
    rng = np.random.default_rng(3)
    for reset in (rng.random(n), np.eye(n)[int(np.argmax(converted.degree()))]):
        ours = PageRank(Adjacency.of_matrix(adjacency)).scores(reset, damping, tolerance=1e-12, max_iterations=1000)
        theirs = converted.personalized_pagerank(
            directed=False, damping=damping, reset=reset.tolist(), weights="weight"
        )
        np.testing.assert_allclose(ours, theirs, atol=1e-6)


def _facts_graph(facts: list[tuple[str, str, str, str]]) -> GraphData:
    """A graph of five entities and the facts (subject, object, relation, fact id) given, in id order."""
    entities = [(f"e{i}", f"Entity {i}") for i in range(5)]
    rows = sorted(((s, o, relation, None, "", "", fact_id) for s, o, relation, fact_id in facts), key=lambda r: r[6])
    return GraphData.from_rows(GraphVersion("t", None, 0), entities, [], rows, [], [], [])


def _expected_label(facts, a: str, b: str) -> str | None:
    claims = [(False, i, r) for s, o, r, i in facts if (s, o) == (a, b)]
    claims += [(True, i, f"{r} (inverse)") for s, o, r, i in facts if (s, o) == (b, a)]
    return min(claims)[2] if claims else None


def test_a_pair_is_labelled_by_its_smallest_fact_id_its_own_direction_first():
    rng = np.random.default_rng(3)
    facts = [
        (f"e{rng.integers(5)}", f"e{rng.integers(5)}", str(rng.choice(["founded", "sold", "owns"])), f"f{n:03d}")
        for n in rng.permutation(60)
    ]
    data = _facts_graph(facts)
    order = rng.permutation(len(data.fact_ids))  # rows out of id order, as after a delta appended some
    shuffled = dataclasses.replace(
        data,
        fact_ids=[data.fact_ids[i] for i in order],
        fact_subjects=data.fact_subjects[order],
        fact_objects=data.fact_objects[order],
        fact_relations=[data.fact_relations[i] for i in order],
        in_store_order=False,
    )
    for graph in (data, shuffled):
        relations = Relations.of(graph)
        for a in range(5):
            for b in range(5):
                assert relations.get((a, b)) == _expected_label(facts, f"e{a}", f"e{b}"), (a, b)
        assert dict(relations.items()) == {
            (a, b): _expected_label(facts, f"e{a}", f"e{b}")
            for a in range(5)
            for b in range(5)
            if _expected_label(facts, f"e{a}", f"e{b}")
        }


def test_relations_layered_over_many_deltas_match_a_lookup_built_afresh():
    rng = np.random.default_rng(5)
    facts = [(f"e{rng.integers(5)}", f"e{rng.integers(5)}", "owns", f"f{n:03d}") for n in range(10)]
    data = _facts_graph(facts)
    relations = Relations.of(data)
    for step in range(45):  # past the layers merged into one
        removed = np.array([int(rng.integers(len(data.fact_ids)))]) if step % 3 == 0 else np.array([], dtype=int)
        kept = np.setdiff1d(np.arange(len(data.fact_ids)), removed)
        fact = (f"e{rng.integers(5)}", f"e{rng.integers(5)}", str(rng.choice(["founded", "sold"])), f"g{step:03d}")
        new = dataclasses.replace(
            data,
            fact_ids=[data.fact_ids[i] for i in kept] + [fact[3]],
            fact_subjects=np.append(data.fact_subjects[kept], int(fact[0][1:])),
            fact_objects=np.append(data.fact_objects[kept], int(fact[1][1:])),
            fact_relations=[data.fact_relations[i] for i in kept] + [fact[2]],
            in_store_order=False,
        )
        relations = relations.changed(data, removed, new, np.array([len(kept)]))
        data = new
        fresh = Relations.of(data)
        assert dict(relations.items()) == dict(fresh.items()), step
