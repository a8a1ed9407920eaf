"""CallSlots: at most `limit` calls in flight; timeouts of calls started together halve it once."""

from __future__ import annotations

import threading
import time

from hippograph.llm.slots import CallSlots


def test_calls_wait_for_a_free_slot_and_a_stall_halves_the_limit_once():
    slots = CallSlots(4)
    in_flight, most = [0], [0]
    lock = threading.Lock()

    def call():
        with slots.slot() as started_under:
            with lock:
                in_flight[0] += 1
                most[0] = max(most[0], in_flight[0])
            time.sleep(0.05)
            with lock:
                in_flight[0] -= 1
        return started_under

    threads = [threading.Thread(target=call) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most[0] == 4
    for _ in range(4):  # four calls that started under 4 all time out: one halving, not four
        slots.halve(4)
    assert slots.limit == 2
    slots.halve(2)
    slots.halve(1)
    assert slots.limit == 1
