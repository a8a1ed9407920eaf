"""Retrievers for RAG frameworks, each in its framework's own base class and its own extra.

- `hippograph.integrations.langchain.HippographRetriever` (``pip install 'hippograph[langchain]'``)
- `hippograph.integrations.llama_index.HippographRetriever` (``pip install 'hippograph[llama-index]'``)
"""
