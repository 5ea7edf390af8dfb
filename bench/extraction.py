"""Article-extraction quality on 181 real news pages with ground-truth bodies.

Data: ``../shared/data/html`` (``html/<id>.html.gz`` and ``ground-truth.json`` keyed by page id
with ``articleBody``). Each page is decoded the way :func:`retold.ingest.load_bytes` decodes HTML
and extracted by:

* ``retold``: :func:`retold.ingest.html.read` (trafilatura XML → our paragraph text, with the
  title line it prepends when the body does not start with it);
* ``retold_body``: the same without the prepended title (what the ground truth holds);
* ``trafilatura``: trafilatura's own plain ``extract(markup)`` with default settings, which keep
  comment sections (``include_comments=True``): this also shows that the comment check below
  catches them;
* ``trafilatura_no_comments``: ``extract(markup, include_comments=False)``.

Score: token-level precision, recall and F1 over bags (multisets) of lower-cased ``\\w+`` tokens,
micro-averaged (token counts summed over pages) and macro-averaged (mean of the per-page scores;
a page with nothing extracted scores 0). Target: F1 ≥ 0.90.

Comment check: pages whose extracted text holds a typical comment-section phrase (``leave a
comment``, ``reply``, ``report abuse``, ...) that the ground-truth body does not hold.

Writes ``bench/results/extraction.json``. Run: ``python -m bench.run extraction``.
"""

from __future__ import annotations

import gzip
import json
import re
import statistics
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "html"
RESULTS = ROOT / "bench" / "results"

TARGET_F1 = 0.90
EXTRACTORS = ("retold", "retold_body", "trafilatura", "trafilatura_no_comments")
COMMENT_PHRASES = (
    "leave a comment", "leave a reply", "add a comment", "add your comment", "post a comment",
    "post comment", "comments are closed", "sign in to comment", "log in to comment",
    "login to comment", "join the conversation", "join the discussion", "report abuse",
    "report comment", "reply to this comment", "replies", "commenting policy", "community guidelines",
    "disqus", "upvote", "newest first", "oldest first", "view all comments", "load more comments",
    "show comments", "hide comments",
)
_TOKEN_RE = re.compile(r"\w+")


def tokens(text: str) -> Counter[str]:
    """Bag of lower-cased ``\\w+`` tokens."""
    return Counter(_TOKEN_RE.findall(text.lower()))


def score(extracted: str, truth: str) -> dict[str, float]:
    """Token precision, recall and F1 of ``extracted`` against ``truth``, with the raw counts."""
    got, want = tokens(extracted), tokens(truth)
    overlap = sum((got & want).values())
    n_got, n_want = sum(got.values()), sum(want.values())
    precision = overlap / n_got if n_got else 0.0
    recall = overlap / n_want if n_want else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1,
            "overlap": overlap, "extracted": n_got, "truth": n_want}


def comment_phrases(extracted: str, truth: str) -> list[str]:
    """Comment-section phrases in ``extracted`` that ``truth`` does not contain."""
    got, want = extracted.lower(), truth.lower()
    return [p for p in COMMENT_PHRASES if re.search(rf"\b{re.escape(p)}\b", got)
            and not re.search(rf"\b{re.escape(p)}\b", want)]


def extract_page(page_id: str) -> dict[str, str]:
    """The text every extractor gets from one page (empty string when it finds none)."""
    import trafilatura

    from retold.errors import InputError
    from retold.ingest import _decode_page
    from retold.ingest import html as _html

    data = gzip.decompress((DATA / "html" / f"{page_id}.html.gz").read_bytes())
    markup = _decode_page(data, page_id)
    out: dict[str, str] = {}
    try:
        doc = _html.read(markup, page_id)
        out["retold"] = doc.text
        body = doc.text
        if doc.title and body.startswith(doc.title + "\n\n"):
            body = body[len(doc.title) + 2:]
        out["retold_body"] = body
    except InputError:
        out["retold"] = out["retold_body"] = ""
    out["trafilatura"] = trafilatura.extract(markup) or ""
    out["trafilatura_no_comments"] = trafilatura.extract(markup, include_comments=False) or ""
    return out


def _summarise(per_page: list[dict[str, Any]], name: str) -> dict[str, Any]:
    scores = [page["scores"][name] for page in per_page]
    overlap = sum(s["overlap"] for s in scores)
    n_got = sum(s["extracted"] for s in scores)
    n_want = sum(s["truth"] for s in scores)
    micro_p = overlap / n_got if n_got else 0.0
    micro_r = overlap / n_want if n_want else 0.0
    micro_f = 2 * micro_p * micro_r / (micro_p + micro_r) if micro_p + micro_r else 0.0
    flagged = [page["id"] for page in per_page if page["comments"][name]]
    phrases = Counter(p for page in per_page for p in page["comments"][name])
    return {
        "micro": {"precision": round(micro_p, 4), "recall": round(micro_r, 4), "f1": round(micro_f, 4)},
        "macro": {key: round(statistics.fmean(s[key] for s in scores), 4)
                  for key in ("precision", "recall", "f1")},
        "median_f1": round(statistics.median(s["f1"] for s in scores), 4),
        "pages_f1_below_0.5": sum(s["f1"] < 0.5 for s in scores),
        "pages_nothing_extracted": sum(s["extracted"] == 0 for s in scores),
        "pages_with_comment_phrases": len(flagged),
        "comment_phrases": dict(phrases.most_common()),
        "pages_flagged": flagged,
    }


def run(workers: int = 8) -> dict[str, Any]:
    """Score every extractor on every page; write and return the summary."""
    truth = json.loads((DATA / "ground-truth.json").read_text(encoding="utf-8"))
    ids = sorted(truth)
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        texts = list(pool.map(extract_page, ids, chunksize=4))
    elapsed = time.perf_counter() - started
    per_page = []
    for page_id, extracted in zip(ids, texts):
        body = truth[page_id]["articleBody"]
        per_page.append({
            "id": page_id,
            "scores": {name: score(extracted[name], body) for name in EXTRACTORS},
            "comments": {name: comment_phrases(extracted[name], body) for name in EXTRACTORS},
        })
    summary = {name: _summarise(per_page, name) for name in EXTRACTORS}
    worst = sorted(per_page, key=lambda page: page["scores"]["retold"]["f1"])[:10]
    result: dict[str, Any] = {
        "schema_version": "1.0",
        "kind": "extraction",
        "data": "shared/data/html (181 pages, ground-truth articleBody)",
        "pages": len(ids),
        "metric": "bag of lower-cased \\w+ tokens; micro = summed counts, macro = mean per page",
        "target_f1": TARGET_F1,
        "meets_target": summary["retold"]["micro"]["f1"] >= TARGET_F1
        and summary["retold"]["macro"]["f1"] >= TARGET_F1,
        "extractors": summary,
        "worst_pages_retold": [
            {"id": page["id"], "url": truth[page["id"]].get("url"),
             **{k: round(v, 3) for k, v in page["scores"]["retold"].items()
                if k in ("precision", "recall", "f1")}}
            for page in worst
        ],
        "extract_s_all_extractors": round(elapsed, 1),
        "workers": workers,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "extraction.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result


if __name__ == "__main__":
    out = run()
    for name, numbers in out["extractors"].items():
        print(f"{name:28s} micro {numbers['micro']}  macro {numbers['macro']}  "
              f"comment pages {numbers['pages_with_comment_phrases']}")
