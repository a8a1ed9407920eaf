"""The graph views a memory queries: one per namespace (and one `as_of` time), built on first
use and built again once the store has changed."""

from __future__ import annotations

import logging

from ..config import Config
from ..store.base import Store
from .view import GraphView

__all__ = ["GraphViews"]

log = logging.getLogger(__name__)


class GraphViews:
    """The views of one store's namespaces, each kept with the store version it was read at.
    Only the latest `as_of` view is kept beside the current ones (a time is rarely asked twice)."""

    def __init__(self, store: Store, config: Config) -> None:
        self._store = store
        self._config = config
        # (namespace, as_of) -> (the namespace's version when read, view)
        self._views: dict[tuple[str, str | None], tuple[str, GraphView]] = {}

    def get(self, namespace: str, as_of: str | None = None) -> GraphView:
        """The namespace's graph view (as it was at `as_of`), built again after a write to that
        namespace (by any memory or process); writes to other namespaces leave it as it is."""
        cached = self._views.get((namespace, as_of))
        if cached is None or cached[0] != self._store.namespace_version(namespace):
            data = self._store.graph_data(namespace)
            if self._config.fact_weight > 0 and len(data.fact_relations) and not data.fact_has_vector.any():
                log.warning(
                    "fact linking is on but no stored fact has a vector: facts are embedded "
                    "only when documents are ingested with Config.fact_weight > 0"
                )
            if as_of is not None:
                data = data.as_of(as_of)
            cached = (
                data.version,
                GraphView.build(data, self._config.topic_edge_weight, self._config.link_edge_weight),
            )
            self._views = {key: value for key, value in self._views.items() if key[1] is None}
            self._views[(namespace, as_of)] = cached
        return cached[1]
