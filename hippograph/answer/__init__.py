"""Answering questions with an LLM from retrieved passages."""

from .answerer import Answerer

__all__ = ["Answerer"]
