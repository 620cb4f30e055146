"""Answering free-text questions from the FAQ: normalization, retrieval and evaluation."""
from bot.qa.index import Answer, QaIndex
from bot.qa.normalize import Normalizer

__all__ = ["Answer", "Normalizer", "QaIndex"]
