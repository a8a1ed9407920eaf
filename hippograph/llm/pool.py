"""Running one model call per item, a few at a time, with a progress bar."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from tqdm.auto import tqdm

Item = TypeVar("Item")
Result = TypeVar("Result")


def call_each(
    work: Callable[[Item], Result], items: Sequence[Item], *, workers: int, desc: str, unit: str, progress: bool
) -> list[Result]:
    """`work(item)` for every item, at most `workers` at once; results in the order of `items`.
    An exception from any call stops the rest (those not started are cancelled) and is raised."""
    results: list[Result] = []
    executor = ThreadPoolExecutor(max_workers=min(workers, max(len(items), 1)), thread_name_prefix="hippograph-llm")
    try:
        futures = [executor.submit(work, item) for item in items]
        with tqdm(total=len(items), unit=unit, desc=desc, leave=False, disable=not progress or len(items) < 2) as bar:
            for future in futures:
                results.append(future.result())
                bar.update(1)
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
    return results
