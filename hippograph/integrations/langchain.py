"""hippograph as a LangChain retriever: `HippographRetriever`, a `BaseRetriever` returning `Document`s.

With a store at ./mem (the docstring tests skip what needs it):

>>> from hippograph.integrations.langchain import HippographRetriever
>>> retriever = HippographRetriever(store="./mem", k=3)  # doctest: +SKIP
>>> docs = retriever.invoke("Where was the founder of Brightwater Labs born?")  # doctest: +SKIP
>>> docs[0].page_content, docs[0].metadata["explanation"]["why"]  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from ..errors import missing_extra
from ..memory import Memory, Time
from .search import MemorySearch, Method, hit_metadata

try:
    from langchain_core.callbacks import AsyncCallbackManagerForRetrieverRun, CallbackManagerForRetrieverRun
    from langchain_core.documents import Document
    from langchain_core.retrievers import BaseRetriever
    from pydantic import ConfigDict, Field, PrivateAttr
except ImportError as err:
    raise missing_extra("langchain", err) from err

__all__ = ["HippographRetriever"]


class HippographRetriever(BaseRetriever):
    """Retrieves the passages of a hippograph memory that answer a query (graph + PageRank by
    default), as LangChain `Document`s.

    Build it on a memory you hold, ``HippographRetriever(memory=Memory("./mem"))``, or on a
    store it opens for reading, ``HippographRetriever(store="./mem")`` (a folder or a graph
    server URI). It works wherever LangChain takes a retriever, sync or async, and in LCEL
    chains (``retriever | format_docs | prompt | llm``).

    Each `Document` has the passage text as `page_content`, the passage id as `id`, and as
    `metadata`: id, document_id, title, score, time (the note's time) and explanation (a dict:
    method, why, question_entities, seed_facts, seed_entities, path), all plain JSON values.

    Fields: `k` passages (default 5); `namespace` (default: the store's default one); `method`
    "hippograph", "dense", "bm25" or "hybrid"; `since` / `until` (only notes in that time window) and `as_of` (the
    memory as it was then), as ISO 8601 strings, dates or datetimes. Queries on one retriever
    take turns (a Memory serves one thread at a time).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    memory: Memory | None = Field(default=None, exclude=True)
    store: str | Path | None = None
    k: int = Field(default=5, ge=1)
    namespace: str | None = None
    method: Method = "hippograph"
    since: Time | None = None
    until: Time | None = None
    as_of: Time | None = None
    _search: MemorySearch = PrivateAttr()

    def model_post_init(self, context: Any) -> None:
        self._search = MemorySearch(self.memory, self.store)
        self.memory = self._search.memory

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        hits = self._search.hits(
            query,
            k=self.k,
            namespace=self.namespace,
            method=self.method,
            since=self.since,
            until=self.until,
            as_of=self.as_of,
        )
        return [Document(page_content=hit.text, metadata=hit_metadata(hit), id=hit.id) for hit in hits]

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun
    ) -> list[Document]:
        # The query blocks (embedding, PageRank): run it off the event loop.
        return await asyncio.to_thread(self._get_relevant_documents, query, run_manager=run_manager.get_sync())
