"""PAN 2013 text-alignment corpus: read truth XML, write detection XML, run and score a detector.

Corpus layout (as distributed by PAN, e.g. ``pan13-text-alignment-training-corpus``)::

    corpus/
      pairs                         "suspicious-documentX.txt source-documentY.txt" per line
      src/source-documentY.txt
      susp/suspicious-documentX.txt
      01-no-plagiarism/             one folder per category, each with
        pairs                       its own pairs file and
        suspicious-documentX-source-documentY.xml   one truth file per pair
      02-no-obfuscation/ ... 05-summary-obfuscation/

Offsets in the XML count Unicode characters of the UTF-8 decoded file, read without newline
translation (``newline=''``) and without touching the corpus's odd control characters.

:func:`evaluate_pan` runs a detector ``detector(suspicious_text, source_text) ->
list[tuple[Span, Span]]`` (suspicious span first) over the pairs, writes one detection XML per pair
under ``out_dir/<category>/`` with the truth file's name (the layout the official
``pan13-text-alignment-perfmeasures.py -d out_dir`` reads), and scores overall and per category
with :mod:`retold.eval.plagdet`.
"""

from __future__ import annotations

import logging
import math
import os
import random
import statistics
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from retold.errors import InputError
from retold.eval.plagdet import Annotation, PanScore, score
from retold.model import Span

__all__ = [
    "DETECTION_FEATURE",
    "NO_PLAGIARISM",
    "TRUTH_FEATURE",
    "CategoryReport",
    "Detector",
    "Feature",
    "PanCorpus",
    "PanDocument",
    "PanPair",
    "PanReport",
    "evaluate_pan",
    "read_annotations",
    "read_corpus",
    "read_text",
    "write_detections",
]

logger = logging.getLogger(__name__)

Detector = Callable[[str, str], "list[tuple[Span, Span]]"]
"""``detector(suspicious_text, source_text)`` -> (suspicious span, source span) per passage."""

ProgressCallback = Callable[[int, int], None]
"""``progress(done, total)``: called with ``(0, total)`` first, then after every pair."""

TRUTH_FEATURE = "plagiarism"
DETECTION_FEATURE = "detected-plagiarism"
NO_PLAGIARISM = "01-no-plagiarism"
UNCATEGORISED = "uncategorised"


# --------------------------------------------------------------------------- XML


@dataclass(frozen=True)
class Feature:
    """One ``<feature>`` of a PAN XML file: a case (truth) or a detection."""

    source_reference: str
    this_offset: int
    this_length: int
    source_offset: int
    source_length: int

    @property
    def annotation(self) -> Annotation:
        """The 4-tuple :mod:`retold.eval.plagdet` scores."""
        return (
            self.this_offset,
            self.this_length,
            self.source_offset,
            self.source_length,
        )


@dataclass(frozen=True)
class PanDocument:
    """A PAN XML file: the suspicious document it refers to and its features of one name."""

    reference: str
    features: tuple[Feature, ...]

    def annotations(self, source_reference: str | None = None) -> list[Annotation]:
        """Annotations, optionally only those pointing into ``source_reference``."""
        return [
            f.annotation
            for f in self.features
            if source_reference is None or f.source_reference == source_reference
        ]


def read_annotations(
    path: str | os.PathLike[str], feature: str = TRUTH_FEATURE
) -> PanDocument:
    """Read the ``<feature name=...>`` elements of a PAN XML file.

    Features of other names (``about``, ``md5``) are ignored, and so are features without
    ``this_offset``/``this_length`` or without a source reference, offset and length (intrinsic
    annotations), as the official script ignores them for text alignment.

    Args:
        path: the XML file.
        feature: the feature name to read: ``"plagiarism"`` for truth files,
            ``"detected-plagiarism"`` for detections.

    Returns:
        The document reference and its features, in file order.

    Raises:
        InputError: the file is missing, is not XML, has no ``reference`` or a non-integer offset.

    Example::

        truth = read_annotations("02-no-obfuscation/suspicious-document00005-source-document01090.xml")
        truth.annotations("source-document01090.txt")  # [(3593, 698, 1300, 698)]
    """
    name = str(path)
    try:
        root = ET.parse(path).getroot()
    except FileNotFoundError:
        raise InputError(name, "file not found") from None
    except ET.ParseError as exc:
        raise InputError(name, f"invalid XML: {exc}") from None
    reference = root.get("reference")
    if root.tag != "document" or not reference:
        raise InputError(
            name, "not a PAN annotation file (no <document reference=...>)"
        )
    features = []
    for node in root.iter("feature"):
        if node.get("name") != feature:
            continue
        attrs = (
            "this_offset",
            "this_length",
            "source_reference",
            "source_offset",
            "source_length",
        )
        if any(node.get(a) is None for a in attrs):
            continue
        try:
            features.append(
                Feature(
                    source_reference=node.get("source_reference", ""),
                    this_offset=int(node.get("this_offset", "")),
                    this_length=int(node.get("this_length", "")),
                    source_offset=int(node.get("source_offset", "")),
                    source_length=int(node.get("source_length", "")),
                )
            )
        except ValueError:
            raise InputError(
                name, f"non-integer offset or length in {ET.tostring(node)!r}"
            ) from None
    return PanDocument(reference=reference, features=tuple(features))


def write_detections(
    path: str | os.PathLike[str],
    suspicious_reference: str,
    source_reference: str,
    detections: Iterable[tuple[Span, Span] | Annotation],
) -> Path:
    """Write a PAN detection XML file atomically (temporary file, then rename).

    Args:
        path: the file to write, normally the truth file's name under the output folder.
        suspicious_reference: e.g. ``"suspicious-document00005.txt"``.
        source_reference: e.g. ``"source-document01090.txt"``.
        detections: ``(suspicious span, source span)`` pairs or 4-tuple annotations.

    Returns:
        The path written.
    """
    out = Path(path)
    root = ET.Element("document", reference=suspicious_reference)
    for det in detections:
        ann = _as_annotation(det)
        ET.SubElement(
            root,
            "feature",
            name=DETECTION_FEATURE,
            this_offset=str(ann[0]),
            this_length=str(ann[1]),
            source_reference=source_reference,
            source_offset=str(ann[2]),
            source_length=str(ann[3]),
        )
    ET.indent(root)
    data = ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out


def _as_annotation(det: tuple[Span, Span] | Annotation) -> Annotation:
    if len(det) == 2:
        this, source = det
        return (this.start, len(this), source.start, len(source))
    off, length, s_off, s_length = det
    return (int(off), int(length), int(s_off), int(s_length))


# --------------------------------------------------------------------------- corpus


@dataclass(frozen=True)
class PanPair:
    """One (suspicious, source) pair of the corpus.

    Attributes:
        suspicious, source: file names inside ``susp/`` and ``src/``.
        category: the category folder (``"02-no-obfuscation"``), or ``"uncategorised"``.
        truth: the truth XML file, or None when the pair has no category folder.
    """

    suspicious: str
    source: str
    category: str
    truth: Path | None

    @property
    def xml_name(self) -> str:
        """``suspicious-documentX-source-documentY.xml``, the truth and detection file name."""
        return f"{Path(self.suspicious).stem}-{Path(self.source).stem}.xml"


@dataclass(frozen=True)
class PanCorpus:
    """A PAN text-alignment corpus folder and its pairs, each mapped to its category."""

    root: Path
    pairs: tuple[PanPair, ...]
    categories: tuple[str, ...]

    def suspicious_path(self, pair: PanPair) -> Path:
        return self.root / "susp" / pair.suspicious

    def source_path(self, pair: PanPair) -> Path:
        return self.root / "src" / pair.source


def _read_pairs_file(path: Path) -> list[tuple[str, str]]:
    pairs = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise InputError(str(path), "file not found") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        fields = line.split()
        if len(fields) != 2:
            raise InputError(
                str(path), "expected 'suspicious source' file names", f"line {number}"
            )
        pairs.append((fields[0], fields[1]))
    return pairs


def read_corpus(corpus_dir: str | os.PathLike[str]) -> PanCorpus:
    """Read a PAN corpus folder: its pairs, their categories and truth files.

    Category folders are the subfolders holding a ``pairs`` file (the PAN 2013 ones are named
    ``01-no-plagiarism`` ... ``05-summary-obfuscation``). Pairs listed in the top ``pairs`` file
    but in no category are ``"uncategorised"`` and have no truth file. Without a top ``pairs``
    file the union of the category pairs is used.

    Raises:
        InputError: no ``src``/``susp`` folder, no pairs at all, a malformed pairs file, a pair
            listed in two categories, or a categorised pair without its truth XML.
    """
    root = Path(corpus_dir)
    for sub in ("src", "susp"):
        if not (root / sub).is_dir():
            raise InputError(str(root), f"not a PAN corpus folder (no {sub}/)")
    category_of: dict[tuple[str, str], str] = {}
    categories = []
    for folder in sorted(
        p for p in root.iterdir() if p.is_dir() and (p / "pairs").is_file()
    ):
        categories.append(folder.name)
        for pair in _read_pairs_file(folder / "pairs"):
            if pair in category_of:
                raise InputError(
                    str(folder / "pairs"), f"pair {pair} also in {category_of[pair]}"
                )
            category_of[pair] = folder.name
    top = root / "pairs"
    ordered = _read_pairs_file(top) if top.is_file() else sorted(category_of)
    if not ordered:
        raise InputError(str(root), "no pairs")
    result: list[PanPair] = []
    for susp, src in dict.fromkeys(ordered):
        category = category_of.get((susp, src), UNCATEGORISED)
        entry = PanPair(susp, src, category, None)
        if category != UNCATEGORISED:
            truth = root / category / entry.xml_name
            if not truth.is_file():
                raise InputError(str(truth), "truth file not found")
            entry = PanPair(susp, src, category, truth)
        result.append(entry)
    if any(p.category == UNCATEGORISED for p in result):
        categories.append(UNCATEGORISED)
    return PanCorpus(root=root, pairs=tuple(result), categories=tuple(categories))


def read_text(path: str | os.PathLike[str]) -> str:
    """Read a corpus document as PAN counts offsets: UTF-8, no newline translation.

    Raises:
        InputError: the file is missing or not UTF-8.
    """
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            return fh.read()
    except FileNotFoundError:
        raise InputError(str(path), "file not found") from None
    except UnicodeDecodeError as exc:
        raise InputError(str(path), "not UTF-8", f"byte {exc.start}") from None


def _sample_pairs(pairs: Sequence[PanPair], sample: int, seed: int) -> list[PanPair]:
    """A stratified random sample of ``sample`` pairs: each category gets its share of the corpus
    (largest remainder), drawn with ``random.Random(seed)``; corpus order is kept."""
    if sample >= len(pairs):
        return list(pairs)
    by_category: dict[str, list[int]] = {}
    for i, pair in enumerate(pairs):
        by_category.setdefault(pair.category, []).append(i)
    quotas = {c: sample * len(ix) / len(pairs) for c, ix in by_category.items()}
    counts = {c: math.floor(q) for c, q in quotas.items()}
    leftover = sample - sum(counts.values())
    for c in sorted(quotas, key=lambda c: (counts[c] - quotas[c], c))[:leftover]:
        counts[c] += 1
    rng = random.Random(seed)
    chosen: list[int] = []
    for c in sorted(by_category):
        chosen.extend(rng.sample(by_category[c], counts[c]))
    return [pairs[i] for i in sorted(chosen)]


# --------------------------------------------------------------------------- running


@dataclass(frozen=True)
class _PairResult:
    index: int
    detections: tuple[Annotation, ...]
    cpu_s: float
    dropped_empty: int


_worker_detector: Detector | None = None


def _init_worker(detector: Detector) -> None:
    global _worker_detector
    _worker_detector = detector


def _run_pair(task: tuple[int, str, str, str]) -> _PairResult:
    """Run the worker's detector on one pair; CPU time covers the detector call only."""
    index, susp_path, src_path, label = task
    assert _worker_detector is not None
    return _detect(_worker_detector, index, susp_path, src_path, label)


def _detect(
    detector: Detector, index: int, susp_path: str, src_path: str, label: str
) -> _PairResult:
    suspicious, source = read_text(susp_path), read_text(src_path)
    start = time.process_time()
    try:
        found = detector(suspicious, source)
    except Exception as exc:
        exc.add_note(f"while running the detector on pair {label}")
        raise
    cpu_s = time.process_time() - start
    detections = []
    dropped = 0
    for this, src in found:
        if this.end > len(suspicious) or src.end > len(source):
            raise ValueError(
                f"pair {label}: detection {this}/{src} lies outside the texts "
                f"({len(suspicious)}, {len(source)} characters)"
            )
        if len(this) == 0 or len(src) == 0:
            dropped += 1
            continue
        detections.append((this.start, len(this), src.start, len(src)))
    return _PairResult(index, tuple(detections), cpu_s, dropped)


# --------------------------------------------------------------------------- report


def _cpu_summary(seconds: Sequence[float]) -> dict[str, float]:
    if not seconds:
        return {
            "mean_ms": 0.0,
            "median_ms": 0.0,
            "p95_ms": 0.0,
            "max_ms": 0.0,
            "total_s": 0.0,
        }
    ordered = sorted(seconds)
    p95 = ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]
    return {
        "mean_ms": 1000 * statistics.fmean(ordered),
        "median_ms": 1000 * statistics.median(ordered),
        "p95_ms": 1000 * p95,
        "max_ms": 1000 * ordered[-1],
        "total_s": sum(ordered),
    }


@dataclass(frozen=True)
class CategoryReport:
    """Scores and counts of one category (or of all pairs).

    Attributes:
        name: category folder name, or ``"all"``.
        pairs: pairs run.
        pairs_with_cases: pairs whose truth file has at least one case.
        pairs_flagged: pairs that got at least one detection.
        unannotated_pairs_flagged: pairs without any case that got a detection.
        score: the PAN scores over the pairs of the category.
        cpu: detector CPU time per pair (``mean_ms``, ``median_ms``, ``p95_ms``, ``max_ms``,
            ``total_s``).
    """

    name: str
    pairs: int
    pairs_with_cases: int
    pairs_flagged: int
    unannotated_pairs_flagged: int
    score: PanScore
    cpu: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "pairs": self.pairs,
            "pairs_with_cases": self.pairs_with_cases,
            "pairs_flagged": self.pairs_flagged,
            "unannotated_pairs_flagged": self.unannotated_pairs_flagged,
            **self.score.to_dict(),
            "cpu": dict(self.cpu),
        }


@dataclass(frozen=True)
class PanReport:
    """Result of :func:`evaluate_pan`.

    Attributes:
        corpus: the corpus folder.
        out_dir: where the detection XMLs were written (``out_dir/<category>/<pair>.xml``).
        detector: the detector's qualified name.
        overall: scores and counts over all pairs run.
        categories: the same per category, in corpus order.
        no_plagiarism_pairs: pairs run from ``01-no-plagiarism``.
        no_plagiarism_flagged: of those, how many got any detection (false alarms).
        sample, seed, jobs: how the run was set up (``sample`` None = all pairs).
        dropped_empty: detections dropped because a side was empty.
        wall_s: wall-clock seconds of the whole run.
    """

    corpus: str
    out_dir: str
    detector: str
    overall: CategoryReport
    categories: tuple[CategoryReport, ...]
    no_plagiarism_pairs: int
    no_plagiarism_flagged: int
    sample: int | None
    seed: int
    jobs: int
    dropped_empty: int
    wall_s: float
    measures: str = field(
        default="PAN 2013 text alignment, macro-averaged (Potthast et al. 2010)"
    )

    def table(self) -> list[dict[str, Any]]:
        """The per-category table, one row per category and a last ``all`` row.

        Columns: category, pairs, cases, detections, precision, recall, granularity, plagdet,
        flagged (pairs with any detection), cpu_ms (mean detector CPU time per pair).
        """
        return [
            {
                "category": row.name,
                "pairs": row.pairs,
                "cases": row.score.cases,
                "detections": row.score.detections,
                "precision": row.score.precision,
                "recall": row.score.recall,
                "granularity": row.score.granularity,
                "plagdet": row.score.plagdet,
                "flagged": row.pairs_flagged,
                "cpu_ms": row.cpu["mean_ms"],
            }
            for row in (*self.categories, self.overall)
        ]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``schema_version`` 1.0)."""
        return {
            "schema_version": "1.0",
            "kind": "pan-text-alignment",
            "measures": self.measures,
            "corpus": self.corpus,
            "out_dir": self.out_dir,
            "detector": self.detector,
            "sample": self.sample,
            "seed": self.seed,
            "jobs": self.jobs,
            "pairs": self.overall.pairs,
            "overall": self.overall.to_dict(),
            "categories": {c.name: c.to_dict() for c in self.categories},
            "no_plagiarism_pairs": self.no_plagiarism_pairs,
            "no_plagiarism_flagged": self.no_plagiarism_flagged,
            "dropped_empty_detections": self.dropped_empty,
            "wall_s": self.wall_s,
        }


def _category_report(
    name: str,
    pairs: Sequence[PanPair],
    cases: dict[PanPair, list[Annotation]],
    detections: dict[PanPair, tuple[Annotation, ...]],
    cpu_s: dict[PanPair, float],
) -> CategoryReport:
    return CategoryReport(
        name=name,
        pairs=len(pairs),
        pairs_with_cases=sum(1 for p in pairs if cases[p]),
        pairs_flagged=sum(1 for p in pairs if detections[p]),
        unannotated_pairs_flagged=sum(
            1 for p in pairs if detections[p] and not cases[p]
        ),
        score=score({p: cases[p] for p in pairs}, {p: detections[p] for p in pairs}),
        cpu=_cpu_summary([cpu_s[p] for p in pairs]),
    )


def _detector_name(detector: Detector) -> str:
    inner = getattr(detector, "func", detector)  # functools.partial
    module = getattr(inner, "__module__", None) or ""
    name = getattr(inner, "__qualname__", None) or type(inner).__qualname__
    return f"{module}.{name}" if module else name


def evaluate_pan(
    corpus_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    detector: Detector,
    jobs: int = 1,
    sample: int | None = None,
    seed: int = 0,
    progress: ProgressCallback | None = None,
) -> PanReport:
    """Run a detector over a PAN corpus, write its detection XMLs and score them.

    Args:
        corpus_dir: the PAN corpus folder (see the module docstring).
        out_dir: where to write ``<category>/<suspicious>-<source>.xml``, one per pair run
            (an empty ``<document>`` when nothing was detected).
        detector: ``detector(suspicious_text, source_text) -> list[tuple[Span, Span]]``, the
            suspicious span first. With ``jobs > 1`` it must pickle: a top-level function or a
            ``functools.partial`` of one.
        jobs: worker processes; 1 runs in this process.
        sample: run a stratified random sample of this many pairs (each category in proportion
            to its size) instead of all pairs.
        seed: the sample's random seed.
        progress: called as ``progress(done, total)``, first with ``done = 0``.

    Returns:
        Scores overall and per category, false alarms on the no-plagiarism pairs, CPU time.

    Raises:
        InputError: the corpus or one of its files cannot be read.
        ValueError: ``jobs < 1`` or ``sample < 1``, or a detection outside the texts.

    Example::

        report = evaluate_pan("../shared/data/pan13-train", "out/pan", detect_passages, jobs=2)
        print(report.overall.score.plagdet)
    """
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    if sample is not None and sample < 1:
        raise ValueError(f"sample must be at least 1 pair, got {sample}")
    started = time.perf_counter()
    corpus = read_corpus(corpus_dir)
    pairs = (
        list(corpus.pairs)
        if sample is None
        else _sample_pairs(corpus.pairs, sample, seed)
    )
    cases = {
        p: (read_annotations(p.truth).annotations(p.source) if p.truth else [])
        for p in pairs
    }
    tasks = [
        (i, str(corpus.suspicious_path(p)), str(corpus.source_path(p)), p.xml_name)
        for i, p in enumerate(pairs)
    ]
    out_root = Path(out_dir)
    detections: dict[PanPair, tuple[Annotation, ...]] = {}
    cpu_s: dict[PanPair, float] = {}
    dropped = 0

    def collect(result: _PairResult) -> None:
        nonlocal dropped
        pair = pairs[result.index]
        detections[pair] = result.detections
        cpu_s[pair] = result.cpu_s
        dropped += result.dropped_empty
        write_detections(
            out_root / pair.category / pair.xml_name,
            pair.suspicious,
            pair.source,
            result.detections,
        )
        if progress is not None:
            progress(len(detections), len(pairs))

    if progress is not None:
        progress(0, len(pairs))
    if jobs == 1 or len(pairs) == 1:
        for task in tasks:
            collect(_detect(detector, *task))
    else:
        import multiprocessing

        with multiprocessing.Pool(
            jobs, initializer=_init_worker, initargs=(detector,)
        ) as pool:
            for result in pool.imap_unordered(_run_pair, tasks, chunksize=4):
                collect(result)

    if dropped:
        logger.info("dropped %d detections with an empty side", dropped)
    categories = tuple(
        _category_report(name, members, cases, detections, cpu_s)
        for name in corpus.categories
        if (members := [p for p in pairs if p.category == name])
    )
    overall = _category_report("all", pairs, cases, detections, cpu_s)
    no_plag = [p for p in pairs if p.category == NO_PLAGIARISM]
    return PanReport(
        corpus=str(corpus.root),
        out_dir=str(out_root),
        detector=_detector_name(detector),
        overall=overall,
        categories=categories,
        no_plagiarism_pairs=len(no_plag),
        no_plagiarism_flagged=sum(1 for p in no_plag if detections[p]),
        sample=sample,
        seed=seed,
        jobs=jobs,
        dropped_empty=dropped,
        wall_s=time.perf_counter() - started,
    )
