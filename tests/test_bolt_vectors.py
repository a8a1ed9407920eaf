"""The graph server's own vector index of passages (store/bolt_vectors.py), on a real Bolt server
(ArcadeDB, see bolt_server.py; its index made through its HTTP API, as an administrator would):
the passages it finds nearest are those the client would rank first, in one namespace, through
rewrites and deletes; a store written before passages kept their vectors gets them; a server
without an index leaves the search to the client and says so."""

from __future__ import annotations

import logging

import numpy as np
import pytest

import hippograph
from hippograph import Document, Memory
from hippograph.store.bolt import connect
from hippograph.store.neo4j import Neo4jStore

QUESTIONS = [
    "Where was the founder of Brightwater Labs born?",
    "Which prize did Mira Holt win?",
    "What does the company in Port Averly make?",
]


@pytest.fixture
def indexed(bolt_server, embedder, extractor):
    """Opens Memories on one database whose server holds a vector index of passages."""
    database = bolt_server.new_database()
    Neo4jStore(bolt_server.uri, bolt_server.auth, database).close()  # makes the Passage type
    bolt_server.index_passage_vectors(database, len(embedder.embed(["a"])[0]))
    opened: list[Memory] = []

    def open_(read_only: bool = False, config: hippograph.Config | None = None) -> Memory:
        store = Neo4jStore(bolt_server.uri, bolt_server.auth, database, read_only=read_only)
        opened.append(Memory(store=store, config=config, embedder=embedder, extractor=extractor))
        return opened[-1]

    yield open_
    for memory in opened:
        memory.close()


def _exact(store, namespace: str, vector: np.ndarray, count: int) -> list[tuple[str, float]]:
    """The `count` passages of `namespace` nearest `vector`, ranked in the client over every vector."""
    ids, vectors = store.passage_vectors(namespace)
    cosine = vectors @ vector / (np.linalg.norm(vectors, axis=1) * np.linalg.norm(vector))
    return [(ids[row], float(cosine[row])) for row in np.argsort(-cosine)[:count]]


def _same(found: list[tuple[str, float]], exact: list[tuple[str, float]]) -> None:
    assert [passage for passage, _ in found] == [passage for passage, _ in exact]
    assert [score for _, score in found] == pytest.approx([score for _, score in exact], abs=1e-4)


def test_the_server_finds_a_namespaces_nearest_passages_through_rewrites_and_deletes(indexed, embedder):
    memory = indexed()
    memory.ingest(hippograph.sample_corpus(), progress=False)
    memory.ingest([Document(id="far", text="Mira Holt won the Kestrel Prize.", namespace="other")], progress=False)
    store = memory._store
    assert store.searches_passages()
    vectors = embedder.embed(QUESTIONS + ["Mira Holt won the Kestrel Prize."])
    for vector in vectors:
        _same(store.nearest_passages("default", vector, 5), _exact(store, "default", vector, 5))
    _same(store.nearest_passages("other", vectors[-1], 5), _exact(store, "other", vectors[-1], 5))

    first = store.nearest_passages("default", vectors[0], 1)[0][0]
    rewritten = "A glassblower from Quarry Bend keeps bees."
    memory.update(first, rewritten)  # the same note, a new text and vector
    bees = embedder.embed([rewritten])[0]
    for vector in (vectors[0], bees):
        _same(store.nearest_passages("default", vector, 5), _exact(store, "default", vector, 5))
    assert store.nearest_passages("default", bees, 1)[0][0] == first

    document = store.passages([first])[first].document_id
    memory.delete(document)
    after = store.nearest_passages("default", bees, 40)
    assert first not in {passage for passage, _ in after} and len(after) == memory.stats("default").passages


def test_a_small_namespace_is_found_among_a_larger_ones_neighbours(indexed, embedder):
    memory = indexed()
    memory.ingest(hippograph.sample_corpus(), namespace="large", progress=False)
    small = [Document(id=f"d{n}", text=text) for n, text in enumerate(["Tea grows on hills.", "Owls hunt at night."])]
    memory.ingest(small, namespace="small", progress=False)
    store, vector = memory._store, embedder.embed([QUESTIONS[0]])[0]
    assert _exact(store, "large", vector, 4)[-1][1] > _exact(store, "small", vector, 1)[0][1], (
        "the server's first neighbours are all of the larger namespace"
    )
    _same(store.nearest_passages("small", vector, 2), _exact(store, "small", vector, 2))


def test_a_store_written_before_passages_held_their_vectors_gets_them_when_opened_for_writing(indexed, embedder):
    with indexed() as memory:
        memory.ingest(hippograph.sample_corpus(), progress=False)
        settings = memory._store.settings
    with connect(settings) as driver:  # as an earlier hippograph left it
        driver.execute_query("MATCH (p:Passage) REMOVE p.vector", database_=settings.database)
        driver.execute_query("MATCH (m:Meta {key: 'schema_version'}) SET m.value = '1'", database_=settings.database)

    reader = indexed(read_only=True)
    assert not reader._store.searches_passages(), "a store with passages the index misses is not asked"
    assert not reader.graph_views.vectors_in_store and reader.query(QUESTIONS[1], 3)

    store = indexed()._store
    vector = embedder.embed([QUESTIONS[1]])[0]
    assert store.searches_passages() and store.stats().passages == 36
    _same(store.nearest_passages("default", vector, 36), _exact(store, "default", vector, 36))
    with connect(settings) as driver:
        found = driver.execute_query(
            "MATCH (m:Meta {key: 'schema_version'}) RETURN m.value AS v", database_=settings.database
        )
    assert found.records[0]["v"] == "2"


def test_a_server_without_a_vector_index_leaves_the_search_to_the_client(bolt_server, embedder, extractor, caplog):
    caplog.set_level(logging.INFO)
    store = Neo4jStore(bolt_server.uri, bolt_server.auth, bolt_server.new_database())
    with Memory(store=store, embedder=embedder, extractor=extractor) as memory:
        memory.ingest(hippograph.sample_corpus(), progress=False)
        assert "refused making a vector index" in caplog.text, "ArcadeDB's Cypher cannot make one: the log says so"
        assert not store.searches_passages() and not memory.graph_views.vectors_in_store
        assert memory.query(QUESTIONS[0], 3)
        with pytest.raises(hippograph.StoreError, match="holds no vector index of passages"):
            store.nearest_passages("default", embedder.embed([QUESTIONS[0]])[0], 3)


def test_a_client_of_the_index_follows_writes_by_their_delta(indexed, monkeypatch):
    writer, reader = indexed(), indexed()
    writer.ingest(hippograph.sample_corpus(), progress=False)
    reads = []
    passage_data = reader._store.passage_data
    monkeypatch.setattr(reader._store, "passage_data", lambda *a, **k: reads.append(k) or passage_data(*a, **k))
    assert reader.graph_views.vectors_in_store and reader.query(QUESTIONS[0], 3)

    note = "Brightwater Labs opened a second plant in Quarry Bend in 2021."
    writer.ingest([Document(id="new", text=note)], progress=False)
    for method in ("hippograph", "dense", "hybrid"):
        assert note in [h.text for h in reader.query("Where did Brightwater Labs open a plant?", 3, method=method)]
    assert reads == [{"vectors": False}], "the kept passages were read once, without vectors, then kept up to date"


def test_a_time_or_a_window_far_from_the_nearest_is_searched_in_more_of_the_servers_neighbours(indexed, monkeypatch):
    """Among more passages than it ranks itself (here: any), the client asks the server for more
    neighbours until k of a window, or of the notes written by a time, are among them."""
    monkeypatch.setattr("hippograph.graph.neighbourhood.EXACT_AMONG", 0)
    memory = indexed(config=hippograph.Config(neighbourhood_seeds=1))  # seeds: the 3 nearest (k)
    memory.ingest(hippograph.sample_corpus(), progress=False)
    old = ["Kestrel Prize judges met in Norland.", "A glass museum opened in Veloria.", "Port Averly was dredged."]
    memory.ingest(
        [Document(id=f"old-{n}", text=text, timestamp=f"2001-05-0{n + 1}T00:00:00Z") for n, text in enumerate(old)],
        progress=False,
    )
    whole = Memory(store=Neo4jStore(settings=memory._store.settings), config=hippograph.Config(graph_reads="whole"))
    try:
        for window in ({"until": "2002-01-01"}, {"as_of": "2002-01-01"}):
            for method in ("hippograph", "dense"):
                got = memory.query(QUESTIONS[1], 3, method=method, **window)
                assert [h.id for h in got] == [h.id for h in whole.query(QUESTIONS[1], 3, method=method, **window)]
                assert sorted(h.text for h in got) == sorted(old), (window, method)
    finally:
        whole.close()
