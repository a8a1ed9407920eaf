"""How many model calls may be in flight, lowered when the server shows it cannot keep up.

Many local servers (llama.cpp by default) answer one request at a time and queue the rest, so
with several calls in flight the last in the queue times out before its turn. Each timeout
halves the number of calls allowed at once, down to one.
"""

from __future__ import annotations

import logging
import threading
from contextlib import contextmanager

log = logging.getLogger(__name__)


class CallSlots:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._in_flight = 0
        self._changed = threading.Condition()

    @contextmanager
    def slot(self):
        """Hold one of the `limit` slots for the duration of a call; yields the limit it started
        under (for `halve`)."""
        with self._changed:
            self._changed.wait_for(lambda: self._in_flight < self.limit)
            self._in_flight += 1
            started_under = self.limit
        try:
            yield started_under
        finally:
            with self._changed:
                self._in_flight -= 1
                self._changed.notify_all()

    def halve(self, started_under: int) -> None:
        """After a timeout of a call that started under limit `started_under`: allow half as many
        calls at once (at least one), unless another timeout of those calls already did."""
        with self._changed:
            if self.limit > 1 and self.limit == started_under:
                self.limit = max(1, self.limit // 2)
                log.warning("the LLM server timed out with calls queued; now %d call(s) at a time", self.limit)
