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
code that built it (hippograph's source, Python's, numpy's and scipy's versions); a view saved by
other code, or that cannot be read (with a warning), is left alone and the view is built again,
and saved views of other code or weights unused for a day are deleted when one is saved. The
folders are the user's alone (mode 0700): a saved view holds the namespace's titles, names,
relations and vectors, and deleting the namespace deletes its saved views. A view loaded is
caught up like a kept one, so a view of another store once at the same place (its change log
names another store) is built again too.

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
import shutil
import sys
import time
import uuid
from functools import cache
from pathlib import Path
from typing import Any

from ..store.graph_data import GraphVersion
from .pointer import point

__all__ = ["ViewCache", "default_view_folder"]

log = logging.getLogger(__name__)

_ALIGN = 64  # each array's buffer starts at a multiple of this in the buffers file
UNUSED_S = 86_400  # a saved view of other code or weights not saved again for this long is deleted


def default_view_folder() -> Path:
    """$XDG_CACHE_HOME/hippograph/views, else ~/.cache/hippograph/views."""
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "hippograph" / "views"


@cache
def code_hash() -> str:
    """A hash of hippograph's source and the versions of Python, numpy and scipy: a view saved by
    other code (another release, a local change) is never loaded as if it were this code's."""
    import numpy
    import scipy

    package = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256(f"{sys.version} numpy {numpy.__version__} scipy {scipy.__version__}".encode())
    for path in sorted(package.rglob("*.py")):
        digest.update(str(path.relative_to(package)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


class ViewCache:
    """The saved views of the store at `store` (its path or address) built with `weights` (topic
    and link edge weights), in `folder`. OSError or RuntimeError when the code cannot be hashed
    (its source is not there) or there is no home folder."""

    def __init__(self, folder: Path, store: str, weights: tuple[float, float]) -> None:
        self._store_folder = folder / _digest(store)
        self._identity = _digest(json.dumps([list(weights), code_hash()]))

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
        folders = pointer.parents[:4]  # the views folder, the store's, the namespace's, this code's
        folders[-1].parent.mkdir(parents=True, exist_ok=True)
        for folder in reversed(folders):
            folder.mkdir(mode=0o700, exist_ok=True)
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
        files = [f"{stem}.pickle", f"{stem}.buffers"]
        content = {"change_seq": version.change_seq, "pickle": files[0], "buffers": files[1], "spans": spans}
        point(pointer, {**content, "files": files}, "view-*")
        cutoff = time.time() - UNUSED_S
        for other in pointer.parent.parent.iterdir():
            saved = other / "current.json"
            if other != pointer.parent and (not saved.exists() or saved.stat().st_mtime < cutoff):
                shutil.rmtree(other, ignore_errors=True)

    def forget(self, namespace: str) -> None:
        """Delete every view saved for `namespace` (of any code or weights)."""
        shutil.rmtree(self._pointer(namespace).parent.parent, ignore_errors=True)

    def _pointer(self, namespace: str) -> Path:
        return self._store_folder / _digest(namespace) / self._identity / "current.json"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:24]
