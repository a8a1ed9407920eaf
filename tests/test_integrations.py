"""The framework retrievers, LangChain's and LlamaIndex's, on the real sample store: in an LCEL chain
and a query engine, sync and async, with their options and their errors."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import pytest
from pydantic import ValidationError

from hippograph import ConfigError, Memory, StoreError

DEMO_QUESTION = "Where was the founder of Brightwater Labs born?"
MIRA_HOLT = "born in Veloria"  # in Mira Holt's passage, which never names the company


def add_diary(memory: Memory) -> None:
    """Two notes of one namespace, a year apart, that the sample corpus knows nothing of."""
    memory.add("Ana planted tomatoes in the community garden.", namespace="ana", timestamp="2023-04-02")
    memory.add("Ana planted roses in the community garden.", namespace="ana", timestamp="2024-04-02")


class TestLangChain:
    langchain = pytest.importorskip("langchain_core", reason="the [langchain] extra is not installed")

    def retriever(self, **fields):
        from hippograph.integrations.langchain import HippographRetriever

        return HippographRetriever(**fields)

    def test_lcel_chain_sync_and_async_brings_the_second_hop(self, sample_memory):
        from langchain_core.runnables import RunnableLambda

        chain = self.retriever(memory=sample_memory, k=3) | RunnableLambda(
            lambda docs: "\n\n".join(f"[{d.metadata['title']}] {d.page_content}" for d in docs)
        )
        context = chain.invoke(DEMO_QUESTION)
        assert MIRA_HOLT in context and context.count("\n\n") == 2
        assert asyncio.run(chain.ainvoke(DEMO_QUESTION)) == context

    def test_documents_carry_text_ids_scores_and_a_json_explanation(self, sample_memory):
        docs = self.retriever(memory=sample_memory, k=3).invoke(DEMO_QUESTION)
        hits = sample_memory.query(DEMO_QUESTION, k=3)
        assert [d.page_content for d in docs] == [h.text for h in hits]
        assert [(d.id, d.metadata["id"], d.metadata["document_id"]) for d in docs] == [
            (h.id, h.id, h.document_id) for h in hits
        ]
        assert [d.metadata["score"] for d in docs] == pytest.approx([h.score for h in hits])
        explanation = docs[0].metadata["explanation"]
        assert explanation["method"] == "hippograph" and explanation["seed_entities"] and explanation["path"]
        assert json.loads(json.dumps([d.metadata for d in docs])) == [d.metadata for d in docs]

    def test_store_namespace_method_and_time_fields(self, sample_memory, sample_store):
        add_diary(sample_memory)
        opened = self.retriever(store=str(sample_store), k=3)
        assert MIRA_HOLT in " ".join(d.page_content for d in opened.invoke(DEMO_QUESTION))
        dense = self.retriever(memory=sample_memory, method="dense", k=2).invoke(DEMO_QUESTION)
        assert {d.metadata["explanation"]["method"] for d in dense} == {"dense"}
        ana = self.retriever(memory=sample_memory, namespace="ana", k=5).invoke("What did Ana plant?")
        assert len(ana) == 2 and all("Ana planted" in d.page_content for d in ana)
        recent = self.retriever(memory=sample_memory, namespace="ana", since="2024-01-01").invoke("What did Ana plant?")
        assert [d.page_content for d in recent] == ["Ana planted roses in the community garden."]
        then = self.retriever(memory=sample_memory, namespace="ana", as_of="2023-12-31").invoke("What did Ana plant?")
        assert [d.page_content for d in then] == ["Ana planted tomatoes in the community garden."]

    def test_bad_settings_are_refused_when_built(self, sample_memory, tmp_path):
        # A pydantic model: bad fields are a ValidationError carrying hippograph's message.
        with pytest.raises(ValidationError, match="not both or neither"):
            self.retriever()
        with pytest.raises(ValidationError, match="not both or neither"):
            self.retriever(memory=sample_memory, store=str(tmp_path))
        with pytest.raises(ValidationError):
            self.retriever(memory=sample_memory, k=0)
        with pytest.raises(ValidationError):
            self.retriever(memory=sample_memory, method="bm42")
        with pytest.raises(StoreError, match="no store"):
            self.retriever(store=str(tmp_path / "nothing here"))
        assert not (tmp_path / "nothing here" / "hippograph.sqlite").exists()


class TestLlamaIndex:
    llama_index = pytest.importorskip("llama_index.core", reason="the [llama-index] extra is not installed")

    def retriever(self, memory=None, **options):
        from hippograph.integrations.llama_index import HippographRetriever

        return HippographRetriever(memory, **options)

    def test_retrieve_gives_scored_text_nodes_with_the_second_hop(self, sample_memory):
        from llama_index.core.schema import MetadataMode, TextNode

        nodes = self.retriever(sample_memory, k=3).retrieve(DEMO_QUESTION)
        hits = sample_memory.query(DEMO_QUESTION, k=3)
        assert [n.node.node_id for n in nodes] == [h.id for h in hits]
        assert all(isinstance(n.node, TextNode) for n in nodes)
        assert [n.score for n in nodes] == pytest.approx([h.score for h in hits])
        assert any(MIRA_HOLT in n.text for n in nodes)
        assert nodes[0].metadata["explanation"]["seed_entities"]
        prompt_text = nodes[0].node.get_content(metadata_mode=MetadataMode.LLM)
        assert nodes[0].metadata["title"] in prompt_text and "explanation" not in prompt_text

    def test_query_engine_and_async_retrieve(self, sample_memory):
        from llama_index.core.llms import MockLLM
        from llama_index.core.query_engine import RetrieverQueryEngine
        from llama_index.core.response_synthesizers.no_text import NoText

        retriever = self.retriever(sample_memory, k=3)
        # Retrieval needs no LLM: NoText returns the sources without calling one. It still wants
        # an LLM object; MockLLM is what LlamaIndex itself uses when the LLM is disabled.
        engine = RetrieverQueryEngine(retriever, response_synthesizer=NoText(llm=MockLLM()))
        response = engine.query(DEMO_QUESTION)
        assert any(MIRA_HOLT in n.text for n in response.source_nodes)
        asynchronous = asyncio.run(retriever.aretrieve(DEMO_QUESTION))
        assert [n.node.node_id for n in asynchronous] == [n.node.node_id for n in response.source_nodes]

    def test_store_namespace_and_window(self, sample_memory, sample_store):
        add_diary(sample_memory)
        assert any(MIRA_HOLT in n.text for n in self.retriever(store=sample_store, k=3).retrieve(DEMO_QUESTION))
        recent = self.retriever(sample_memory, namespace="ana", until="2023-12-31").retrieve("What did Ana plant?")
        assert [n.text for n in recent] == ["Ana planted tomatoes in the community garden."]

    def test_bad_settings_are_refused_when_built(self, sample_memory):
        with pytest.raises(ConfigError, match="not both or neither"):
            self.retriever()
        with pytest.raises(ConfigError, match="k must be"):
            self.retriever(sample_memory, k=0)
        with pytest.raises(ConfigError, match="unknown method"):
            self.retriever(sample_memory, method="bm42")


@pytest.mark.parametrize(
    "module, missing, extra",
    [
        ("hippograph.integrations.langchain", "langchain_core", "langchain"),
        ("hippograph.integrations.llama_index", "llama_index", "llama-index"),
        ("hippograph.server.mcp", "mcp", "mcp"),
        ("hippograph.server.rest", "fastapi", "server"),
    ],
)
def test_a_door_without_its_extra_names_the_extra(module, missing, extra):
    # A None entry in sys.modules makes Python's import of that package fail, as when it is not installed.
    code = f"import sys; sys.modules[{missing!r}] = None; import {module}"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert (
        f"ImportError: this part of hippograph needs the [{extra}] extra: pip install 'hippograph[{extra}]'"
        in done.stderr
    )
