"""Graph views kept between processes: a large namespace's view, as built, saved in the user's
cache folder so that the next process opening the store loads it instead of reading the graph out
of the store and building it (seconds per 100,000 passages), then catches it up from the store's
change log like any kept view (graph/delta.py).

A saved view is a pickle whose arrays lie, out of band, in a file beside it that is memory-mapped
copy-on-write when loaded: loading costs the view's dictionaries and lists, not its vectors, and
a view that grows copies an array only when it first appends to it. Pickles run code when they
are loaded, so they are kept in the user's own cache folder ($XDG_CACHE_HOME/hippograph/views, or
~/.cache/hippograph/views), never beside the store: a store folder someone else shared carries
none. A saved view is found by the store's place, the namespace, the edge weights and a hash of the
code that built it; a view saved by other code, or that cannot be read (with a warning), is left
alone and the view is built again. A view loaded is caught up like a kept one, so a view of
another store once at the same place (its change log names another store) is built again too.

>>> import tempfile
>>> import numpy as np
>>> from hippograph.store.graph_data import GraphVersion
>>> cache = ViewCache(Path(tempfile.mkdtemp()), store="/data/store/hippograph.sqlite", weights=(0.5, 1.0))
>>> kept = {"version": GraphVersion("t1", "s1", 7), "vectors": np.ones((2, 3), dtype=np.float32)}
>>> cache.save("default", kept, kept["version"])
>>> loaded = cache.load("default")
>>> loaded["version"].change_seq, loaded["vectors"].sum().item()
(7, 6.0)
>>> cache.load("another namespace") is None
True
"""

from __future__ import annotations

import hashlib
import json
import logging
import mmap
import os
import pickle
import uuid
from functools import cache
from pathlib import Path
from typing import Any

from ..store.graph_data import GraphVersion

__all__ = ["ViewCache", "default_view_folder"]

log = logging.getLogger(__name__)

_ALIGN = 64  # each array's buffer starts at a multiple of this in the buffers file


def default_view_folder() -> Path:
    """$XDG_CACHE_HOME/hippograph/views, else ~/.cache/hippograph/views."""
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "hippograph" / "views"


@cache
def code_hash() -> str:
    """A hash of the source of the modules whose classes a saved view holds: a view saved by
    other code (another release, a local change) is never loaded as if it were this code's."""
    package = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for path in sorted(
        [*(package / "graph").glob("*.py"), package / "growing.py", package / "store" / "graph_data.py"]
    ):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


class ViewCache:
    """The saved views of the store at `store` (its path or address) built with `weights` (topic
    and link edge weights), in `folder`."""

    def __init__(self, folder: Path, store: str, weights: tuple[float, float]) -> None:
        self._folder = folder
        self._identity = json.dumps([store, list(weights), code_hash()])

    def load(self, namespace: str) -> Any | None:
        """The view saved for `namespace`, or None (nothing saved, saved by other code or for
        another store, or unreadable: logged)."""
        pointer = self._pointer(namespace)
        try:
            saved = json.loads(pointer.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as err:
            log.warning("cannot read the saved view %s (%s); building the view again", pointer, err)
            return None
        try:
            stream = (pointer.parent / saved["pickle"]).read_bytes()
            with open(pointer.parent / saved["buffers"], "rb") as file:
                mapped = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_COPY) if saved["spans"] else b""
            whole = memoryview(mapped)
            return pickle.loads(stream, buffers=[whole[start:end] for start, end in saved["spans"]])
        except Exception as err:  # noqa: BLE001 - whatever a damaged file raises, the view is built again
            log.warning("cannot load the saved view %s (%s); building the view again", pointer, err)
            return None

    def save(self, namespace: str, kept: Any, version: GraphVersion) -> None:
        """Save `kept` (the state of the store it holds: `version`) for `namespace`, replacing the
        view saved before in one step (a process loading meanwhile reads the one or the other)."""
        pointer = self._pointer(namespace)
        pointer.parent.mkdir(parents=True, exist_ok=True)
        stem = f"view-{version.change_seq}-{uuid.uuid4().hex[:8]}"
        buffers: list[pickle.PickleBuffer] = []
        stream = pickle.dumps(kept, protocol=5, buffer_callback=buffers.append)
        spans = []
        with open(pointer.parent / f"{stem}.buffers", "wb") as file:
            for buffer in buffers:
                raw = buffer.raw()
                file.write(b"\0" * (-file.tell() % _ALIGN))
                spans.append((file.tell(), file.tell() + raw.nbytes))
                file.write(raw)
        (pointer.parent / f"{stem}.pickle").write_bytes(stream)
        written = {
            "identity": self._identity,
            "change_seq": version.change_seq,
            "pickle": f"{stem}.pickle",
            "buffers": f"{stem}.buffers",
            "spans": spans,
        }
        staged = pointer.with_name(f"{stem}.json")
        staged.write_text(json.dumps(written))
        os.replace(staged, pointer)
        for old in pointer.parent.glob("view-*"):
            if old.stem != stem:
                old.unlink(missing_ok=True)  # a process that mapped it keeps reading its pages

    def _pointer(self, namespace: str) -> Path:
        key = hashlib.sha256(json.dumps([self._identity, namespace]).encode()).hexdigest()[:24]
        return self._folder / key / "current.json"
