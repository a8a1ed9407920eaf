"""Saved files a small JSON pointer names (a passage index beside the store, a graph view in the
user's cache): new files are written under names of their own, then the pointer is replaced in
one step, so a reader sees the old save or the new one, never half of one.

Processes may save at once: each deletes only the files named by the pointer it replaced (never
files another process may still be about to point at), and files no pointer names that are older
than `STALE_S` (left by a save that stopped, or by two saves that crossed) are swept.

>>> import tempfile
>>> folder = Path(tempfile.mkdtemp())
>>> for save in ("a", "b"):
...     _ = (folder / f"data-{save}").write_text(save)
...     point(folder / "current.json", {"files": [f"data-{save}"]}, "data-*")
>>> sorted(path.name for path in folder.iterdir())
['current.json', 'data-b']
"""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path

__all__ = ["point"]

STALE_S = 3600


def point(pointer: Path, content: dict, pattern: str) -> None:
    """Replace `pointer` by `content` (its "files": the names of the files it points at, in the
    pointer's folder), then delete the files the replaced pointer named and the stale ones
    matching `pattern`."""
    folder = pointer.parent
    try:
        replaced = set(json.loads(pointer.read_text()).get("files", []))
    except (OSError, ValueError, AttributeError):
        replaced = set()
    staged = folder / f"{pointer.stem}-{uuid.uuid4().hex[:8]}.partial"
    staged.write_text(json.dumps(content))
    os.replace(staged, pointer)
    kept = set(content["files"])
    for name in replaced - kept:
        (folder / name).unlink(missing_ok=True)  # a process that mapped it keeps reading its pages
    cutoff = time.time() - STALE_S
    for path in [*folder.glob(pattern), *folder.glob(f"{pointer.stem}-*.partial")]:
        try:
            if path.name not in kept and path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
        except OSError:
            continue
