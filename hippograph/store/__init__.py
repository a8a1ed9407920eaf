"""Stores: where documents, passages, entities, facts, edges and embeddings persist (see
docs/stores.md for writing another backend)."""

from __future__ import annotations

from pathlib import Path

from ..errors import ConfigError
from .base import Records, Store
from .bolt import is_server_uri
from .graph_data import GraphData
from .record_store import RecordStore
from .records import EntityRecord, FactRecord, WriteBatch
from .sqlite import SQLiteStore

__all__ = [
    "EntityRecord",
    "FactRecord",
    "GraphData",
    "RecordStore",
    "Records",
    "SQLiteStore",
    "Store",
    "WriteBatch",
    "open_store",
]


def open_store(location: str | Path | None, *, create: bool = True, read_only: bool = False) -> Store:
    """The store at a folder, or on a graph server ("bolt://host:7687", "neo4j://..."; user,
    password and database from NEO4J_USERNAME, NEO4J_PASSWORD and NEO4J_DATABASE)."""
    if location is None:
        raise ConfigError("give a Memory a folder, a graph server URI or a store=")
    if is_server_uri(location):
        from .neo4j import Neo4jStore

        return Neo4jStore(location, create=create, read_only=read_only)
    return SQLiteStore(location, create=create, read_only=read_only)
