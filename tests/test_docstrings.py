"""Every example in hippograph's docstrings runs and shows what it says it shows (doctest)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import hippograph

MODULES = sorted(module.name for module in pkgutil.walk_packages(hippograph.__path__, "hippograph."))


@pytest.mark.parametrize("name", MODULES)
def test_the_examples_of_a_module_run(name):
    module = importlib.import_module(name)
    failed, _ = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert failed == 0, f"{failed} docstring example(s) of {name} failed (printed above)"
