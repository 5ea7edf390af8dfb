"""evaluate_pairs on a tiny CSV made in tmp_path, the rank statistics, and the paraphrase scorers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from retold.errors import InputError
from retold.eval.pairs import (
    average_ranks,
    evaluate_pairs,
    expected_calibration_error,
    read_pairs_csv,
    roc_auc,
)
from retold.eval.paraphrase import (
    evaluate_mrpc,
    evaluate_sts,
    read_mrpc,
    read_sts,
    sentence_scorer,
    spearman,
)

SOURCE = "Councillor Maren Oduya said the Tilbury bridge would reopen on 3 May after repairs."
REWRITE = "The Tilbury bridge reopens on 3 May, councillor Maren Oduya said."
OTHER = "A bakery in Holmfirth sold 400 hot cross buns before nine."
FOURTH = "Bridge repairs in Tilbury are finished, the council said."

# judge probabilities, keyed by the first text; labels 1, 1, 0, 0
PROBABILITY = {REWRITE: 0.9, FOURTH: 0.4, OTHER: 0.6, SOURCE: 0.1}


def _judge(a: str, b: str) -> float:
    return PROBABILITY[a]


def _write_csv(tmp_path: Path) -> Path:
    (tmp_path / "docs").mkdir(exist_ok=True)
    (tmp_path / "docs" / "rewrite.txt").write_text(REWRITE, encoding="utf-8")
    (tmp_path / "docs" / "source.txt").write_text(SOURCE, encoding="utf-8")
    path = tmp_path / "pairs.csv"
    path.write_text(
        "a,b,label,note\n"
        "docs/rewrite.txt,docs/source.txt,1,files relative to the CSV\n"
        f'"{FOURTH}",docs/source.txt,true,inline text and a file\n'
        f'"{OTHER}","{SOURCE}",0,inline texts\n'
        f'docs/source.txt,"{OTHER}",no,\n',
        encoding="utf-8",
    )
    return path


def test_read_pairs_csv_resolves_files_and_texts(tmp_path: Path) -> None:
    rows = read_pairs_csv(_write_csv(tmp_path))
    assert rows == [
        (REWRITE, SOURCE, 1),
        (FOURTH, SOURCE, 1),
        (OTHER, SOURCE, 0),
        (SOURCE, OTHER, 0),
    ]


def test_evaluate_pairs_hand_computed(tmp_path: Path) -> None:
    result = evaluate_pairs(_write_csv(tmp_path), _judge)
    # labels [1, 1, 0, 0], probabilities [0.9, 0.4, 0.6, 0.1], threshold 0.5
    # predicted [1, 0, 1, 0]: tp 1, fp 1, fn 1 -> precision 0.5, recall 0.5, F1 0.5, accuracy 0.5
    assert (
        result["precision"],
        result["recall"],
        result["f1"],
        result["accuracy"],
    ) == (0.5, 0.5, 0.5, 0.5)
    # AUC: positive-negative pairs ranked right: 0.9>0.6, 0.9>0.1, 0.4>0.1, but 0.4<0.6 -> 3/4
    assert result["roc_auc"] == 0.75
    # ECE: one pair per bin: |0.9-1|, |0.4-1|, |0.6-0|, |0.1-0| -> (0.1+0.6+0.6+0.1)/4 = 0.35
    assert result["ece"] == pytest.approx(0.35)
    assert (result["pairs"], result["positives"], result["ece_bins"]) == (4, 2, 10)


def test_evaluate_pairs_rejects_non_probabilities(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a probability"):
        evaluate_pairs(_write_csv(tmp_path), lambda a, b: 1.5)
    with pytest.raises(ValueError, match="not a probability"):
        evaluate_pairs(_write_csv(tmp_path), lambda a, b: float("nan"))


def test_bad_csv_raises_input_error(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("a,b\nx,y\n", encoding="utf-8")
    with pytest.raises(InputError, match="missing column"):
        read_pairs_csv(path)
    path.write_text("a,b,label\nx,y,maybe\n", encoding="utf-8")
    with pytest.raises(InputError, match="line 2"):
        read_pairs_csv(path)
    path.write_text("a,b,label\n", encoding="utf-8")
    with pytest.raises(InputError, match="no rows"):
        read_pairs_csv(path)
    with pytest.raises(InputError, match="file not found"):
        read_pairs_csv(tmp_path / "missing.csv")


def test_average_ranks_share_ties() -> None:
    # sorted: 1.0 (rank 1), 2.0 twice (ranks 2,3 -> 2.5), 5.0 (rank 4)
    assert average_ranks([2.0, 1.0, 5.0, 2.0]).tolist() == [2.5, 1.0, 4.0, 2.5]


def test_roc_auc_edge_cases() -> None:
    assert roc_auc([1, 0, 1, 0], [0.5, 0.5, 0.5, 0.5]) == 0.5  # all tied
    assert roc_auc([1, 1, 0], [0.9, 0.8, 0.1]) == 1.0
    assert roc_auc([0, 0, 1], [0.9, 0.8, 0.1]) == 0.0
    assert roc_auc([1, 1], [0.3, 0.4]) is None  # one class only


def test_ece_perfectly_calibrated_and_edges() -> None:
    # bin [0.2, 0.3): probabilities 0.25, share of positives 1/4 -> 0
    assert expected_calibration_error([1, 0, 0, 0], [0.25] * 4) == pytest.approx(0.0)
    # probability 1.0 falls in the last bin; label 0 -> error 1
    assert expected_calibration_error([0], [1.0]) == 1.0


# ----------------------------------------------------------------- paraphrase scorers


def test_sts_reader_and_spearman(tmp_path: Path) -> None:
    path = tmp_path / "sts.csv"
    path.write_text(
        "main-news\tx\t2012\t0001\t5.000\tA ferry sank.\tA ferry went down.\n"
        "main-news\tx\t2012\t0002\t0.500\tRain fell.\tA goat won.\textra\tfields\n"
        "main-news\tx\t2012\t0003\t2.500\tPrices rose.\tPrices fell.\n",
        encoding="utf-8",
    )
    a, b, gold = read_sts(path)
    assert (
        a[1] == "Rain fell."
        and b[1] == "A goat won."
        and gold.tolist() == [5.0, 0.5, 2.5]
    )
    result = evaluate_sts(lambda x, y: np.array([0.9, 0.1, 0.3]), path)
    assert result["spearman"] == pytest.approx(1.0)
    # rank fallback agrees with scipy on ties
    x, y = [1, 2, 2, 3, 5], [2, 1, 4, 4, 3]
    rx, ry = average_ranks(x), average_ranks(y)
    assert spearman(x, y) == pytest.approx(float(np.corrcoef(rx, ry)[0, 1]))


def test_mrpc_threshold_is_cross_validated(tmp_path: Path) -> None:
    path = tmp_path / "mrpc.txt"
    lines = ["\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String"]
    for i in range(40):
        lines.append(f"{i % 2}\t{i}\t{i + 100}\tsentence {i}\tother {i}")
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    a, b, labels = read_mrpc(path)
    assert (
        len(a) == len(b) == 40
        and (a[0], b[0]) == ("sentence 0", "other 0")
        and labels[:4].tolist() == [0, 1, 0, 1]
    )
    # similarity separates the classes perfectly -> accuracy and F1 1 on both held-out halves
    result = evaluate_mrpc(
        lambda x, y: np.array([0.8 if int(s.split()[1]) % 2 else 0.2 for s in x]), path
    )
    assert result["accuracy"] == 1.0 and result["f1"] == 1.0
    assert all(0.2 < t < 0.8 for t in result["thresholds"])
    assert "2-fold" in result["protocol"]


def test_sentence_scorer_adds_the_lexical_cosine_to_the_encoder_cosine() -> None:
    encoder = lambda x, y: np.array([0.25, 0.25, -0.5])  # noqa: E731 - any similarity plugs in
    scores = sentence_scorer(encoder)(
        ["The ferry sank near the harbour.", "Rain fell all day.", "Prices rose."],
        ["The ferry sank near the harbour.", "A goat won the fair.", "Prices rose."],
    )
    # identical sentences: lexical 1; no shared content word: lexical 0; negative cosine clipped to 0
    assert scores.tolist() == pytest.approx([1.25, 0.25, 1.0])
