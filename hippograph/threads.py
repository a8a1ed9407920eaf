"""Keeping numpy's BLAS threads from fighting the embedding model's threads.

numpy's OpenBLAS keeps its worker threads spinning for a while after each call. On a small
machine those spinning threads take the cores the embedding model (torch, its own thread
pool) needs next: measured on 2 cores, a query's embedding took 69 ms right after a small
matrix-vector product instead of 23 ms. Query-time linear algebra is small, so it runs with
one BLAS thread; torch's threads are not affected.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

from threadpoolctl import ThreadpoolController

_controller: ThreadpoolController | None = None


def single_blas_thread() -> AbstractContextManager:
    """A context in which numpy/scipy BLAS calls use one thread."""
    global _controller
    if _controller is None:  # inspecting the loaded libraries takes about a millisecond
        _controller = ThreadpoolController()
    return _controller.limit(limits=1, user_api="blas")
