"""The PAN-style passage detector (retold.passages) and ``retold eval pan``.

Exact checks run on small fictional texts written here; behaviour checks run on real PAN 2013
pairs read from ../shared/data (skipped when the data is not there).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from retold.eval.pan import read_annotations, read_text
from retold.eval.plagdet import score
from retold.model import Span
from retold.passages import (
    VALIDATOR_FEATURES,
    PassageSettings,
    cluster_seeds,
    cut_source_lines,
    detect_passages,
    extend_diagonally,
    load_validator,
    plain_sentences,
)

COPIED = (
    "The harbour bell of Calloway rang twelve times before the ferry left at dawn. "
    "Fishermen from the northern quay said the sound carried as far as the lighthouse on Brenn Point. "
    "Mayor Odile Farrant told the council the bell had not been rung since the storm of 1961. "
    "She promised that the restored tower would open to visitors on the first Sunday of May. "
)
HOST = (
    "Rainfall in the valley was lower than expected this spring. "
    "Farmers planted barley earlier and hope for a good harvest in August. "
)


def _pair_plagdet(pan: Path, category: str, susp: str, src: str) -> Callable[[PassageSettings], float]:
    """Plagdet of one PAN pair's detections under given settings."""
    suspicious = read_text(pan / "susp" / f"{susp}.txt")
    source = read_text(pan / "src" / f"{src}.txt")
    truth = read_annotations(pan / category / f"{susp}-{src}.xml").annotations()

    def plagdet(settings: PassageSettings) -> float:
        found = detect_passages(suspicious, source, settings)
        return score({0: truth}, {0: [(a.start, len(a), b.start, len(b)) for a, b in found]}).plagdet

    return plagdet


def test_plain_sentences_offsets_are_exact() -> None:
    text = "First line of a sentence\ncontinues here. Second sentence!"
    spans = plain_sentences(text)
    assert [s.slice(text) for s in spans] == [
        "First line of a sentence\ncontinues here.",
        "Second sentence!",
    ]


def test_cluster_seeds_splits_on_both_texts() -> None:
    seeds = [(21, 0), (21, 7), (22, 1), (22, 7), (22, 8), (23, 9), (24, 10)]
    clusters = sorted(sorted(c) for c in cluster_seeds(seeds, 4))
    assert clusters == [[(21, 0), (22, 1)], [(21, 7), (22, 7), (22, 8), (23, 9), (24, 10)]]


def test_copied_passage_is_found_with_exact_edges() -> None:
    suspicious = HOST + COPIED + HOST
    source = "An unrelated opening about trains and timetables. " + COPIED
    found = detect_passages(suspicious, source, PassageSettings(summary=False))
    assert len(found) == 1
    this, src = found[0]
    assert this.slice(suspicious).strip() == COPIED.strip()
    assert src.slice(source).strip() == COPIED.strip()


def test_two_copies_in_swapped_order_are_two_passages() -> None:
    # copies of two places of the source, adjacent but swapped: the sentence-level passes report
    # only the first; the word-level literal pass finds both, each with exact edges
    first = (
        "Engineers at the Brenn Point lighthouse replaced the lamp with a rotating lens imported from "
        "Glasgow in the autumn. The keeper, Ansel Morrow, logged every ship that passed the reef during "
        "the winter storms of that decade. His daughter later donated the logbooks, bound in green "
        "leather, to the county museum in Harrowgate. "
    )
    source = first + "Rainfall records were kept by the parish clerk for forty years. " + COPIED
    suspicious = HOST + COPIED + first + "Trains leave the station every hour on weekdays."
    found = detect_passages(suspicious, source, PassageSettings(summary=False))
    pairs = [(this.slice(suspicious), src.slice(source)) for this, src in found]
    assert pairs == [(COPIED.strip(), COPIED.strip()), (first.strip(), first.strip())]
    assert detect_passages(suspicious, source, PassageSettings(summary=False, literal_ngram=0)) != found


def test_diagonal_extension_takes_in_similar_neighbour_pairs_only() -> None:
    import numpy as np

    similarity = np.zeros((8, 8), dtype=np.float32)
    for i in range(8):
        similarity[i, i] = 0.2  # each sentence's counterpart, too changed to seed
    similarity[1, 1] = 0.05  # ... except this pair, which stops the walk backwards
    bounds = (3, 4, 3, 4)
    settings = PassageSettings()
    assert extend_diagonally(similarity, bounds, settings) == (2, 7, 2, 7)
    assert extend_diagonally(similarity, bounds, PassageSettings(diagonal_steps=1)) == (2, 5, 2, 5)
    assert extend_diagonally(similarity, bounds, PassageSettings(diagonal_cosine=0.0)) == bounds
    # a neighbour similar to the sentence next to it on only one side is not a pair
    shifted = np.roll(similarity, 1, axis=1)
    assert extend_diagonally(shifted, bounds, settings) == bounds


def test_unrelated_texts_give_nothing() -> None:
    assert detect_passages(HOST * 3, "Trains leave the station every hour on weekdays. " * 5) == []


# --------------------------------------------------------------------------- real PAN pairs

# (category, suspicious, source, least plagdet of the detections on this pair)
REAL_PAIRS = [
    ("02-no-obfuscation", "suspicious-document00005", "source-document02886", 0.9),
    ("02-no-obfuscation", "suspicious-document00013", "source-document00010", 0.9),
    ("03-random-obfuscation", "suspicious-document00006", "source-document00560", 0.8),
    ("04-translation-obfuscation", "suspicious-document00004", "source-document00420", 0.6),
    ("05-summary-obfuscation", "suspicious-document00008", "source-document00305", 0.5),
    # passages the fragment-cosine rule alone rejects (plagdet 0): the learned validator keeps them
    ("03-random-obfuscation", "suspicious-document00006", "source-document02634", 0.9),
    ("03-random-obfuscation", "suspicious-document00075", "source-document02441", 0.9),
    ("04-translation-obfuscation", "suspicious-document00070", "source-document02225", 0.9),
    # the sentence pairs next to the seeded ones are counterparts too changed to seed
    ("03-random-obfuscation", "suspicious-document00099", "source-document02994", 0.8),
    ("04-translation-obfuscation", "suspicious-document00062", "source-document01342", 0.9),
    ("04-translation-obfuscation", "suspicious-document00011", "source-document02342", 0.95),
    # randomly obfuscated passages cut into tiny "sentences": found by the band seeds
    ("03-random-obfuscation", "suspicious-document01051", "source-document02265", 0.95),
    ("03-random-obfuscation", "suspicious-document00560", "source-document00018", 0.95),
    # summaries whose sentences also match one by one: the summary replaces those fragments
    ("05-summary-obfuscation", "suspicious-document00023", "source-document02641", 0.9),
    ("05-summary-obfuscation", "suspicious-document00080", "source-document00529", 0.9),
]
NO_PLAGIARISM = [
    ("suspicious-document00017", "source-document00135"),
    ("suspicious-document00017", "source-document00189"),
    ("suspicious-document00017", "source-document00350"),
    # a window close to the whole source whose sentences match one spot of it: not a summary
    ("suspicious-document00150", "source-document01446"),
    ("suspicious-document00181", "source-document01599"),
]


@pytest.fixture(scope="module")
def pan(shared_data: Path) -> Path:
    corpus = shared_data / "pan13-train"
    if not corpus.is_dir():
        pytest.skip("PAN 2013 training corpus not available")
    return corpus


@pytest.mark.parametrize("category,susp,src,least", REAL_PAIRS, ids=[p[0] for p in REAL_PAIRS])
def test_real_pair_is_detected(pan: Path, category: str, susp: str, src: str, least: float) -> None:
    suspicious = read_text(pan / "susp" / f"{susp}.txt")
    source = read_text(pan / "src" / f"{src}.txt")
    truth = read_annotations(pan / category / f"{susp}-{src}.xml").annotations()
    found = detect_passages(suspicious, source)
    detections = [(a.start, len(a), b.start, len(b)) for a, b in found]
    result = score({0: truth}, {0: detections})
    assert result.plagdet >= least, (truth, detections)
    for this, source_span in found:
        assert isinstance(this, Span) and 0 <= this.start < this.end <= len(suspicious)
        assert 0 <= source_span.start < source_span.end <= len(source)


def test_fragment_cosine_rule_alone_misses_what_the_validator_finds(pan: Path) -> None:
    """The learned validator is what finds these passages (so the test above cannot pass by luck)."""
    suspicious = read_text(pan / "susp" / "suspicious-document00075.txt")
    source = read_text(pan / "src" / "source-document02441.txt")
    rule_only = PassageSettings(validator="")
    assert detect_passages(suspicious, source, rule_only) == []
    assert detect_passages(suspicious, source) != []


def test_diagonal_extension_finds_what_the_seeds_alone_leave_too_short(pan: Path) -> None:
    """Without the diagonal extension this random-obfuscation case is under the length floor."""
    suspicious = read_text(pan / "susp" / "suspicious-document00099.txt")
    source = read_text(pan / "src" / "source-document02994.txt")
    assert detect_passages(suspicious, source, PassageSettings(diagonal_cosine=0.0)) == []
    assert detect_passages(suspicious, source) != []


def test_band_seeds_find_what_sentence_seeds_miss(pan: Path) -> None:
    """Without the word-level band seeds this random-obfuscation case is not found at all."""
    suspicious = read_text(pan / "susp" / "suspicious-document01051.txt")
    source = read_text(pan / "src" / "source-document02265.txt")
    assert detect_passages(suspicious, source, PassageSettings(band_min_points=0)) == []
    assert detect_passages(suspicious, source) != []


@pytest.mark.parametrize(
    "category,susp,src",
    [
        ("02-no-obfuscation", "suspicious-document01698", "source-document01124"),
        ("04-translation-obfuscation", "suspicious-document00019", "source-document01100"),
    ],
)
def test_source_passage_matched_again_elsewhere_counts_once(pan: Path, category: str, susp: str, src: str) -> None:
    """A source paragraph echoed at another place of the suspicious text is not a second passage."""
    suspicious = read_text(pan / "susp" / f"{susp}.txt")
    source = read_text(pan / "src" / f"{src}.txt")
    truth = read_annotations(pan / category / f"{susp}-{src}.xml").annotations()
    echoed = detect_passages(suspicious, source, PassageSettings(source_overlap=1.0))
    found = detect_passages(suspicious, source)
    assert len(echoed) > len(truth) == len(found)
    detections = [(a.start, len(a), b.start, len(b)) for a, b in found]
    assert score({0: truth}, {0: detections}).plagdet >= 0.95


@pytest.mark.parametrize(
    "susp,src",
    [
        ("suspicious-document01287", "source-document00569"),
        ("suspicious-document00203", "source-document00989"),
    ],
)
def test_window_matching_one_stretch_of_its_source_is_a_copy_not_a_summary(pan: Path, susp: str, src: str) -> None:
    """A copied paragraph close to its whole (short-ish) source stays a copy: its sentences all
    match one stretch of the source, where a summary's would be spread over all of it."""
    suspicious = read_text(pan / "susp" / f"{susp}.txt")
    source = read_text(pan / "src" / f"{src}.txt")
    truth = read_annotations(pan / "02-no-obfuscation" / f"{susp}-{src}.xml").annotations()
    neither_test = PassageSettings(summary_concentration=1.01, summary_stretch_cosine=0)
    as_summary = detect_passages(suspicious, source, neither_test)
    assert [b for _, b in as_summary] == [Span(0, len(source))]
    # each test alone keeps it a copy: its matches crowd one stretch, and that stretch is much
    # closer to the window than the whole source is
    for one_test in (replace(neither_test, summary_concentration=0.8), replace(neither_test, summary_stretch_cosine=1.25)):
        assert all(len(b) < len(source) for _, b in detect_passages(suspicious, source, one_test))
    found = detect_passages(suspicious, source)
    detections = [(a.start, len(a), b.start, len(b)) for a, b in found]
    assert score({0: truth}, {0: detections}).plagdet >= 0.95


@pytest.mark.parametrize(
    "category,susp,src",
    [
        ("03-random-obfuscation", "suspicious-document00292", "source-document02025"),
        ("04-translation-obfuscation", "suspicious-document00062", "source-document00624"),
        ("03-random-obfuscation", "suspicious-document00148", "source-document01571"),
        ("04-translation-obfuscation", "suspicious-document00151", "source-document02695"),
    ],
)
def test_host_words_beside_the_reuse_are_cut_off(pan: Path, category: str, susp: str, src: str) -> None:
    """Where a reused passage begins or ends inside what the splitter sees as one sentence, or
    extension took in a host sentence beside it, the host words (absent from the other side)
    are cut off word by word: the passage then matches the annotated case."""
    plagdet = _pair_plagdet(pan, category, susp, src)
    assert plagdet(PassageSettings(partial_edge_margin=0)) < 0.9
    assert plagdet(PassageSettings()) >= 0.93


def test_a_source_line_the_suspicious_span_does_not_back_is_cut_off() -> None:
    """The next paragraph shares a topic word with the reuse but little else: it goes; a last
    line drawn on as much as the rest of the passage stays."""
    unrelated = "The harbour cafe sells smoked herring, rye bread and strong tea to tourists all summer long."
    suspicious = HOST + COPIED + HOST
    source = COPIED + "\n" + unrelated
    d_span = Span(len(HOST), len(HOST) + len(COPIED))
    (kept,) = cut_source_lines([(d_span, Span(0, len(source)))], suspicious, source, PassageSettings())
    assert kept[1].slice(source) == COPIED.rstrip()

    source = COPIED + "\n" + "The restored bell tower of Calloway opens to visitors in May."
    (kept,) = cut_source_lines([(d_span, Span(0, len(source)))], suspicious, source, PassageSettings())
    assert kept[1] == Span(0, len(source))


@pytest.mark.parametrize(
    "category,susp,src",
    [
        ("03-random-obfuscation", "suspicious-document00091", "source-document03196"),
        ("03-random-obfuscation", "suspicious-document01707", "source-document03183"),
        ("04-translation-obfuscation", "suspicious-document01596", "source-document02013"),
    ],
)
def test_host_paragraph_after_the_reused_source_is_left_out(pan: Path, category: str, susp: str, src: str) -> None:
    """Seeds took in the source's next paragraph (same topic words); the line cut leaves it out."""
    plagdet = _pair_plagdet(pan, category, susp, src)
    assert plagdet(PassageSettings(line_cut_share=0)) < 0.93
    assert plagdet(PassageSettings()) >= 0.93


def test_shipped_validator_matches_its_features() -> None:
    model = load_validator("pan_validator")
    n = len(VALIDATOR_FEATURES)
    assert len(model.mean) == len(model.scale) == n
    assert len(model.weights) == len(model.term_mean) == n + n * (n + 1) // 2


@pytest.mark.parametrize("susp,src", NO_PLAGIARISM)
def test_no_plagiarism_pair_gives_nothing(pan: Path, susp: str, src: str) -> None:
    suspicious = read_text(pan / "susp" / f"{susp}.txt")
    source = read_text(pan / "src" / f"{src}.txt")
    assert detect_passages(suspicious, source) == []


def test_eval_pan_cli_json(pan: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from retold.cli import main

    status = main(["eval", "pan", str(pan), "--sample", "10", "--out", str(tmp_path), "--json"])
    assert status == 0
    data = json.loads(capsys.readouterr().out)
    assert data["pairs"] == 10
    categories = [row["category"] for row in data["table"]]
    assert categories[-1] == "all" and len(categories) >= 3
    for row in data["table"]:
        assert {"precision", "recall", "granularity", "plagdet", "cpu_ms"} <= set(row)
    assert set(data["categories"]) == set(categories[:-1])
    assert any(tmp_path.rglob("*.xml"))


def test_eval_pan_cli_missing_corpus(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from retold.cli import main

    assert main(["eval", "pan", str(tmp_path / "nowhere"), "--json"]) == 2
    assert "not a PAN corpus folder" in capsys.readouterr().err
