"""hippograph as a LlamaIndex retriever: `HippographRetriever`, a `BaseRetriever` returning
`NodeWithScore(TextNode)`s.

    With a store at ./mem (the docstring tests skip what needs it):

    >>> from hippograph.integrations.llama_index import HippographRetriever
    >>> retriever = HippographRetriever(store="./mem", k=3)  # doctest: +SKIP
    >>> nodes = retriever.retrieve("Where was the founder of Brightwater Labs born?")  # doctest: +SKIP
    >>> nodes[0].text, nodes[0].score, nodes[0].metadata["explanation"]["why"]  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from ..errors import missing_extra
from ..memory import Memory, Time
from .search import MemorySearch, Method, hit_metadata

try:
    from llama_index.core.callbacks import CallbackManager
    from llama_index.core.retrievers import BaseRetriever
    from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
except ImportError as err:
    raise missing_extra("llama-index", err) from err

__all__ = ["HippographRetriever"]

# Metadata kept out of the text an LLM or an embedding model sees: ids and scores are for code.
_FOR_CODE_ONLY = ["id", "document_id", "score", "explanation"]


class HippographRetriever(BaseRetriever):
    """Retrieves the passages of a hippograph memory that answer a query (graph + PageRank by
    default), as LlamaIndex nodes; usable wherever LlamaIndex takes a retriever (e.g.
    ``RetrieverQueryEngine.from_args(retriever, llm=...)``).

    Build it on a memory you hold, ``HippographRetriever(memory=Memory("./mem"))``, or on a
    store it opens for reading, ``HippographRetriever(store="./mem")`` (a folder or a graph
    server URI).

    Each node is a `TextNode` whose id is the passage id and whose text is the passage, scored
    by the retrieval score, with metadata: id, document_id, title, score, time (the note's
    time) and explanation (a dict: method, why, question_entities, seed_facts,
    seed_entities, path), all plain JSON values. Title and time reach an LLM's prompt; the rest
    is for code.

    `k` passages (default 5); `namespace` (default: the store's default one); `method`
    "hippograph", "dense", "bm25" or "hybrid"; `since` / `until` (only notes in that time window) and `as_of` (the
    memory as it was then), as ISO 8601 strings, dates or datetimes. Queries on one retriever
    take turns (a Memory serves one thread at a time).
    """

    def __init__(
        self,
        memory: Memory | None = None,
        *,
        store: str | Path | None = None,
        k: int = 5,
        namespace: str | None = None,
        method: Method = "hippograph",
        since: Time | None = None,
        until: Time | None = None,
        as_of: Time | None = None,
        callback_manager: CallbackManager | None = None,
        verbose: bool = False,
    ) -> None:
        MemorySearch.check(k, method)
        self._search = MemorySearch(memory, store)
        self.k, self.namespace, self.method = k, namespace, method
        self.since, self.until, self.as_of = since, until, as_of
        super().__init__(callback_manager=callback_manager, verbose=verbose)

    @property
    def memory(self) -> Memory:
        return self._search.memory

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        hits = self._search.hits(
            query_bundle.query_str,
            k=self.k,
            namespace=self.namespace,
            method=self.method,
            since=self.since,
            until=self.until,
            as_of=self.as_of,
        )
        return [
            NodeWithScore(
                node=TextNode(
                    id_=hit.id,
                    text=hit.text,
                    metadata=hit_metadata(hit),
                    excluded_llm_metadata_keys=_FOR_CODE_ONLY,
                    excluded_embed_metadata_keys=_FOR_CODE_ONLY,
                ),
                score=hit.score,
            )
            for hit in hits
        ]

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        # The query blocks (embedding, PageRank): run it off the event loop.
        return await asyncio.to_thread(self._retrieve, query_bundle)
