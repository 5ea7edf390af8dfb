"""``trace``: which documents of a store an article was rewritten from (or was the source of).

Candidates from :func:`retold.retrieve.candidates` are each compared with the article by
:func:`retold.compare.compare_documents` (the article as ``a``, the candidate as ``b``) in two tiers
(:class:`TraceSettings`): every candidate with the lexical compare (~10-30 ms per news pair), then
the few that matter again with the full semantic compare (~100-200 ms per pair, most of it encoding
the candidate's sentences): the best-ranked derived ones, the uncertain ones and the likely
paraphrases, at most ``max_semantic``. They are then ranked:
derived pairs first, candidates that are the article's *source* before candidates *derived from the
article*, then by probability and coverage. The verdict's direction says which way the text went:
``relation`` is ``"source"`` when the candidate is the article's source, ``"derivative"`` when the
article is the candidate's source (the article came first), ``"related"`` when one was rewritten from
the other but the texts do not say which, ``"unrelated"`` when nothing is derived.

Example::

    >>> from retold.index import Index
    >>> with Index.open("store/") as index:                         # doctest: +SKIP
    ...     result = trace(index, load("rewrite.txt"))
    ...     best = result.sources[0]
    ...     print(best.doc_id, best.relation, best.verdict.type)
    wire-42 source condensed rewrite
"""

from __future__ import annotations

import html
import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from .judge import JudgeSettings
from .model import CompareResult, Coverage, Document, Verdict
from .retrieve import Candidate, RetrieveSettings, candidates, document_features
from .scan import needs_semantic

if TYPE_CHECKING:  # pragma: no cover
    from .compare import Settings
    from .index import Index

__all__ = ["SCHEMA_VERSION", "TraceResult", "TraceSettings", "TraceSource", "trace"]

SCHEMA_VERSION = "1.0"
"""Version of the ``trace`` JSON output (``retold/schemas/trace-1.json``)."""

Relation = Literal["source", "related", "derivative", "unrelated"]
Escalate = Literal["auto", "never", "always"]


@dataclass(frozen=True)
class TraceSettings:
    """How :func:`trace` spends its comparisons.

    Attributes:
        escalate: ``auto`` (two tiers: lexical for every candidate, semantic for the few that
            matter), ``never`` (lexical only) or ``always`` (every candidate semantically: the
            slowest, ~0.1-0.2 s per candidate).
        max_semantic: at most this many candidates get the semantic compare under ``auto``. The
            default keeps a trace against a 100k store near 0.5 s on one core.
        escalate_low, escalate_high: a lexical probability in ``(low, high)`` is uncertain;
            ``low`` sits just above the judge's no-evidence floor (0.217).
        escalate_score, paraphrase_cosine: a candidate the lexical compare found not derived is
            re-judged when its retrieval score is at least ``escalate_score`` or its lead cosine at
            least ``paraphrase_cosine`` (a paraphrase shares few words).

    Under ``auto`` the candidates are ranked on their lexical verdicts; in that order, a candidate
    is re-judged semantically when it is derived and among the first ``compare_top`` (its full
    report is shown), when its verdict is uncertain, or when retrieval suggests a paraphrase.

    Example:
        >>> TraceSettings(escalate="never").max_semantic
        3
    """

    escalate: Escalate = "auto"
    max_semantic: int = 3
    escalate_low: float = 0.25
    escalate_high: float = 0.9
    escalate_score: float = 0.2
    paraphrase_cosine: float = 0.75

    def __post_init__(self) -> None:
        from .errors import ConfigError

        if self.escalate not in ("auto", "never", "always"):
            raise ConfigError(f"trace.escalate must be auto, never or always, got {self.escalate!r}")
        if not isinstance(self.max_semantic, int) or self.max_semantic < 0:
            raise ConfigError(f"trace.max_semantic must be a non-negative integer, got {self.max_semantic!r}")
        if not 0.0 <= self.escalate_low <= self.escalate_high <= 1.0:
            raise ConfigError("trace.escalate_low and escalate_high must satisfy 0 <= low <= high <= 1")


@dataclass(frozen=True)
class TraceSource:
    """One candidate after comparison with the article.

    Attributes:
        rank: position in :attr:`TraceResult.sources`, from 1.
        document: the candidate document from the store.
        candidate: how retrieval found it (score, signals, shared anchors).
        relation: ``source`` (the article was rewritten from it), ``derivative`` (it was rewritten
            from the article) or ``unrelated``.
        verdict: the comparison's verdict (its direction uses ``a`` = article, ``b`` = candidate).
        coverage_article, coverage_candidate: share of each side's body text in aligned passages.
        result: the full comparison for the top ``compare_top`` sources, else ``None``.
    """

    rank: int
    document: Document
    candidate: Candidate
    relation: Relation
    verdict: Verdict
    coverage_article: float
    coverage_candidate: float
    result: CompareResult | None = None

    @property
    def doc_id(self) -> str:
        return self.document.id

    @property
    def derived(self) -> bool:
        return self.verdict.derived


@dataclass(frozen=True)
class TraceResult:
    """What :func:`trace` found for one article.

    Attributes:
        article: the article traced.
        sources: compared candidates, ranked (see the module docstring).
        candidates_considered: how many candidates retrieval proposed.
        in_store: whether the article itself is in the store (it is then left out of the sources).
        store: the store's path.
        retrieve_ms, compare_ms: time spent on retrieval and on comparisons.
        compared_semantically: how many candidates got the semantic compare (the others' verdicts
            are the lexical compare's).
    """

    article: Document
    sources: tuple[TraceSource, ...]
    candidates_considered: int
    in_store: bool
    store: str
    retrieve_ms: float
    compare_ms: float
    compared_semantically: int = 0

    @property
    def derived_sources(self) -> list[TraceSource]:
        """The candidates the article was rewritten from."""
        return [s for s in self.sources if s.relation == "source"]

    def to_dict(self) -> dict[str, Any]:
        """Plain data following ``retold/schemas/trace-1.json``."""
        from . import __version__

        return {
            "schema_version": SCHEMA_VERSION,
            "tool": {"name": "retold", "version": __version__},
            "store": self.store,
            "article": _doc_dict(self.article) | {"in_store": self.in_store},
            "candidates_considered": self.candidates_considered,
            "sources": [_source_dict(s) for s in self.sources],
            "timing_ms": {"retrieve": round(self.retrieve_ms, 2), "compare": round(self.compare_ms, 2)},
        }

    def to_json(self, indent: int | None = 2) -> str:
        """JSON text following ``retold/schemas/trace-1.json``."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    def to_html(self) -> str:
        """One self-contained page: the ranked sources, each top one with its full compare report.

        Each full report is the page :func:`retold.report.html.to_html` makes, embedded in a
        ``<details>`` section through an ``<iframe srcdoc>`` (so its styles and ids stay its own);
        the table links to it.
        """
        from .report.html import to_html as compare_html

        rows = []
        details = []
        for s in self.sources:
            anchor = f"compare-{s.rank}"
            label = _esc(s.document.title or s.document.name or s.doc_id)
            name = f'<a href="#{anchor}">{label}</a>' if s.result is not None else label
            rows.append(
                f'<tr class="{s.relation}"><td>{s.rank}</td><td>{name}<div class="id">{_esc(s.doc_id)}</div></td>'
                f"<td>{_relation_text(s.relation)}</td><td>{_esc(s.verdict.type)}</td>"
                f"<td>{s.verdict.probability:.2f}</td><td>{s.coverage_article:.0%}</td>"
                f"<td>{s.coverage_candidate:.0%}</td><td>{s.candidate.score:.2f}</td>"
                f"<td>{_esc(', '.join(s.candidate.found_by))}</td></tr>"
            )
            if s.result is not None:
                page = compare_html(s.result)
                details.append(
                    f'<details id="{anchor}"><summary>#{s.rank} {label}: {_relation_text(s.relation)}, '
                    f"{_esc(s.verdict.type)}, p={s.verdict.probability:.2f}</summary>\n"
                    f'<iframe title="compare report {s.rank}" srcdoc="{html.escape(page, quote=True)}"></iframe>'
                    "</details>"
                )
        title = self.article.title or self.article.name
        table = (
            "<table><thead><tr><th>#</th><th>document</th><th>relation</th><th>type</th><th>p</th>"
            "<th>coverage of article</th><th>coverage of candidate</th><th>retrieval</th><th>found by</th>"
            "</tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
            if rows
            else "<p>No candidate sources found in the store.</p>"
        )
        return (
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            '<meta name="generator" content="retold">\n'
            f"<title>retold trace: {_esc(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
            f"<h1>Sources of {_esc(title)}</h1>\n"
            f'<p class="meta">store {_esc(self.store)} · {self.candidates_considered} candidates compared'
            f"{' · the article itself is in the store' if self.in_store else ''}</p>\n"
            f"{table}\n" + "\n".join(details) + f"\n<script>{_JS}</script>\n</body>\n</html>\n"
        )

    def _repr_html_(self) -> str:
        return self.to_html()


def _relation_text(relation: Relation) -> str:
    return {
        "source": "source of the article",
        "related": "one rewritten from the other, direction unclear",
        "derivative": "rewritten from the article",
        "unrelated": "not derived",
    }[relation]


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _doc_dict(doc: Document) -> dict[str, Any]:
    return {
        "id": doc.id,
        "name": doc.name,
        "title": doc.title,
        "url": doc.url,
        "published": doc.published,
        "site": doc.site,
        "chars": len(doc.text),
    }


def _source_dict(s: TraceSource) -> dict[str, Any]:
    direction = s.verdict.direction
    return {
        "rank": s.rank,
        "document": _doc_dict(s.document),
        "relation": s.relation,
        "derived": bool(s.verdict.derived),
        "probability": round(s.verdict.probability, 4),
        "type": s.verdict.type,
        "direction": {
            "source": "candidate" if direction.source == "b" else "article",
            "confidence": round(direction.confidence, 4),
            "evidence": list(direction.evidence),
        },
        "coverage": {"article": round(s.coverage_article, 4), "candidate": round(s.coverage_candidate, 4)},
        "retrieval": {
            "score": s.candidate.score,
            "signals": dict(s.candidate.signals),
            "anchors": list(s.candidate.anchors),
            "found_by": list(s.candidate.found_by),
        },
        "compare": s.result.to_dict() if s.result is not None else None,
    }


def _relation(result: CompareResult, min_confidence: float = JudgeSettings().direction_min_confidence) -> Relation:
    if not result.verdict.derived:
        return "unrelated"
    if result.verdict.direction.confidence < min_confidence:
        return "related"
    return "source" if result.verdict.direction.derivative == "a" else "derivative"


def _coverages(result: CompareResult) -> tuple[float, float]:
    coverage: Coverage = result.coverage
    if result.verdict.direction.derivative == "a":
        return coverage.derivative, coverage.source
    return coverage.source, coverage.derivative


_RELATION_ORDER = {"source": 0, "related": 1, "derivative": 2, "unrelated": 3}


def trace(
    index: Index,
    article: Document,
    limit: int = 10,
    compare_top: int = 3,
    settings: Settings | None = None,
    retrieve_settings: RetrieveSettings | None = None,
    trace_settings: TraceSettings | None = None,
) -> TraceResult:
    """Find the documents in ``index`` that ``article`` was rewritten from (or that copied it).

    Args:
        index: an open store.
        article: the article; it need not be in the store (when it is, it is left out).
        limit: how many candidates to retrieve and compare.
        compare_top: how many of the ranked sources keep their full :class:`CompareResult`.
        settings: comparison settings of the semantic tier (defaults to ``Settings()``); the
            lexical tier uses them without an encoder.
        retrieve_settings: retrieval settings (defaults to the store's).
        trace_settings: the compare tiers (defaults to ``TraceSettings()``: two tiers).

    Returns:
        A :class:`TraceResult` whose ``sources`` are ranked: derived first, the article's sources
        before its derivatives, then by probability, then by coverage of the article.

    Raises:
        StoreError: ``retrieve_settings`` disagree with the store's feature settings.

    Example:
        >>> result = trace(index, load("rewrite.txt"), limit=5)   # doctest: +SKIP
        >>> [(s.doc_id, s.relation) for s in result.sources[:2]]   # doctest: +SKIP
        [('wire-42', 'source'), ('wire-42-update', 'source')]
    """
    from .compare import Settings, compare_documents

    settings = settings or Settings()
    trace_settings = trace_settings or TraceSettings()
    retrieve_settings = index.check_settings(retrieve_settings)
    started = time.perf_counter()
    features = document_features(article, retrieve_settings)
    in_store = index.key_of_hash(features.content_hash) is not None
    found = candidates(index, article, limit=limit, settings=retrieve_settings, features=features)
    documents = index.documents_by_key([c.key for c in found])
    retrieved = time.perf_counter()
    semantic_available = settings.align.encoder != "none"
    mode = trace_settings.escalate if semantic_available else "never"
    first = settings if mode == "always" else settings.with_encoder("none")
    compared = [(c, documents[c.key], compare_documents(article, documents[c.key], first)) for c in found]
    semantic = len(compared) if mode == "always" and semantic_available else 0
    if mode == "auto":
        compared.sort(key=_order)
        chosen = [i for i, item in enumerate(compared) if _escalate(item, i, compare_top, trace_settings)]
        for i in chosen[: trace_settings.max_semantic]:
            candidate, document, _ = compared[i]
            compared[i] = (candidate, document, compare_documents(article, document, settings))
            semantic += 1
    finished = time.perf_counter()

    compared.sort(key=_order)
    sources = []
    for rank, (candidate, document, result) in enumerate(compared, start=1):
        article_coverage, candidate_coverage = _coverages(result)
        sources.append(
            TraceSource(
                rank=rank,
                document=document,
                candidate=candidate,
                relation=_relation(result),
                verdict=result.verdict,
                coverage_article=article_coverage,
                coverage_candidate=candidate_coverage,
                result=result if rank <= compare_top else None,
            )
        )
    return TraceResult(
        article=article,
        sources=tuple(sources),
        candidates_considered=len(found),
        in_store=in_store,
        store=str(index.path),
        retrieve_ms=(retrieved - started) * 1000.0,
        compare_ms=(finished - retrieved) * 1000.0,
        compared_semantically=semantic,
    )


def _order(item: tuple[Candidate, Document, CompareResult]) -> tuple[Any, ...]:
    candidate, _, result = item
    article_coverage, _ = _coverages(result)
    return (
        _RELATION_ORDER[_relation(result)],
        -round(result.verdict.probability, 2),
        -round(article_coverage, 2),
        -candidate.score,
    )


def _escalate(item: tuple[Candidate, Document, CompareResult], rank: int, compare_top: int,
              trace_settings: TraceSettings) -> bool:
    """Whether a lexically judged candidate (at 0-based ``rank``) deserves the semantic compare."""
    candidate, _, result = item
    p = result.verdict.probability
    if result.verdict.derived and rank < max(1, compare_top):
        return True  # a top source: its type, coverage and direction are shown
    return needs_semantic(
        p, result.verdict.derived, candidate.score, candidate.signals.get("vector", 0.0),
        trace_settings.escalate_low, trace_settings.escalate_high, trace_settings.escalate_score,
        trace_settings.paraphrase_cosine,
    )


_CSS = """
body{font:15px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:1.5rem auto;max-width:90rem;
padding:0 1rem;color:#1d1d1f}
h1{font-size:1.4rem}.meta{color:#666}
table{border-collapse:collapse;width:100%;margin:1rem 0}
th,td{text-align:left;padding:.35rem .6rem;border-bottom:1px solid #ddd;vertical-align:top}
th{background:#f4f4f6;font-weight:600}
tr.source td:nth-child(3){color:#a4000f;font-weight:600}
tr.derivative td:nth-child(3){color:#8a5a00;font-weight:600}
tr.unrelated{color:#777}
.id{font-size:.8rem;color:#888;font-family:ui-monospace,monospace}
details{margin:1rem 0;border:1px solid #ddd;border-radius:6px}
summary{cursor:pointer;padding:.5rem .8rem;background:#f4f4f6;font-weight:600}
iframe{width:100%;height:80vh;border:0}
"""

# Following a link to a report opens its <details> section.
_JS = """
function openTarget(){var el=location.hash&&document.getElementById(location.hash.slice(1));
if(el&&el.tagName==='DETAILS'){el.open=true;el.scrollIntoView();}}
window.addEventListener('hashchange',openTarget);openTarget();
"""
