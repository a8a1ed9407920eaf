"""Fixtures of the reliability suite."""

import pytest

from .children import kill_leftovers


@pytest.fixture(autouse=True)
def no_worker_outlives_its_test():
    """Whatever a test does, no worker process it started keeps running after it."""
    yield
    kill_leftovers()
