"""Stores: where documents, passages, entities, facts, edges and embeddings persist (see
docs/stores.md for writing another backend)."""

from .base import Records, Store
from .record_store import RecordStore
from .records import EntityRecord, FactRecord, GraphData, WriteBatch
from .sqlite import SQLiteStore

__all__ = ["EntityRecord", "FactRecord", "GraphData", "RecordStore", "Records", "SQLiteStore", "Store", "WriteBatch"]
