"""Evaluation: question loaders, retrieval metrics and the retrieval benchmark."""

from .metrics import recall_at_k
from .questions import Question, load_questions

__all__ = ["Question", "load_questions", "recall_at_k"]
