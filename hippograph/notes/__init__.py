"""Notes (A-MEM): attributes of each passage, links between notes, and their evolution."""

from .attributes import offline_attributes
from .links import NoteLinker

__all__ = ["NoteLinker", "offline_attributes"]
