"""Notes (A-MEM): attributes of each passage, links between notes, and their evolution."""

from .attributes import offline_attributes
from .links import NoteLinker
from .llm_attributes import LLMAttributes
from .llm_links import LinkJudge

__all__ = ["LLMAttributes", "LinkJudge", "NoteLinker", "offline_attributes"]
