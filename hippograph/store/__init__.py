"""Stores: where documents, passages, entities, facts, edges and embeddings persist."""

from .base import Store
from .records import EntityRecord, FactRecord, GraphData, WriteBatch
from .sqlite import SQLiteStore

__all__ = ["Store", "SQLiteStore", "WriteBatch", "EntityRecord", "FactRecord", "GraphData"]
