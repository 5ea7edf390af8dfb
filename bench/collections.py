"""Collections benchmark: index, trace and scan a corpus of real news with known derivations.

The corpus (built fresh for each size, nothing is copied into the repository):

* real news: BBC 2004-05 (2,225 articles, byte-identical duplicates dropped by the store) and
  Reuters-21578 stories with a body, in file order, until the size is reached;
* PAN 2013 training pairs: suspicious documents and their sources from ``02-no-obfuscation`` and
  ``03-random-obfuscation`` (true edges: suspicious → source);
* seeded rewrites of news articles made by :func:`rewrite` (true edges: rewrite → its article), in
  three kinds: ``close`` (common-word synonyms, ~10 % of sentences dropped), ``condensed`` (half of
  the sentences dropped, adjacent sentences merged) and ``paraphrase`` (synonyms for almost every
  listed word, sentences reordered and merged, ~20 % dropped);
* re-issues: two BBC or two Reuters stories count as a true (undirected) edge when their titles are
  equal after normalisation *and* at least 80 % of the shorter text's word 3-grams occur in the
  longer one. That rule is reliable (a corrected or repeated story keeps its headline and its
  body) but incomplete: re-issues with a changed headline are not in the truth, so they count
  against precision; the report lists a sample of the false positives to judge them.

Beyond the ~19k real articles, the corpus is filled with copies of them under new ids (each copy
ends with a line ``Archive copy N.`` so that its content hash differs): that is how 100k is reached.

Each size runs in a subprocess, so its peak RSS is its own: ``python -m bench.collections 1000``.
``run()`` runs 1k and 10k, then :func:`bench_pan_retrieval` (candidate recall on 240 PAN 2013
multi-source pairs, whole-document vs window search), and writes ``bench/results/collections.json``.

Speed alone (index docs/s and CPU per document, trace latency with and without the compare tiers),
keeping the store in WORKDIR so that a 100k store is indexed once and traced again:
``python -m bench.collections speed SIZE WORKDIR [--index-only | --trace-only | --scan-only]`` (the scan
of an indexed store: wall time, peak memory of the scan and its workers together, edge scores);
:func:`record_speed` files a result under ``speed.<size>`` in the results file.
"""

from __future__ import annotations

import json
import random
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "bench" / "results"
SIZES = (1000, 10000)
REWRITE_SHARE = 0.08
PAN_PAIRS = 10
SEED = 13

# Common news words and a synonym each: the "synonym-level paraphrase" of the generator.
SYNONYMS = {
    "said": "stated", "says": "states", "told": "informed", "company": "firm", "firm": "company",
    "government": "administration", "increase": "rise", "rise": "increase", "rose": "climbed",
    "fell": "dropped", "fall": "drop", "big": "large", "large": "big", "small": "minor",
    "major": "significant", "new": "fresh", "plan": "proposal", "plans": "proposals", "buy": "purchase",
    "bought": "purchased", "sell": "dispose of", "sold": "disposed of", "help": "assist",
    "start": "begin", "started": "began", "end": "finish", "ended": "finished", "show": "indicate",
    "showed": "indicated", "expected": "anticipated", "however": "but", "also": "additionally",
    "about": "around", "many": "numerous", "people": "individuals", "country": "nation",
    "market": "marketplace", "price": "cost", "prices": "costs", "profit": "earnings",
    "profits": "earnings", "sales": "revenues", "shares": "stock", "official": "spokesperson",
    "officials": "representatives", "announced": "unveiled", "agreed": "consented", "month": "period",
    "year": "twelve months", "week": "seven days", "because": "since", "before": "prior to",
    "after": "following", "during": "throughout", "against": "versus", "between": "among",
    "important": "key", "problem": "issue", "problems": "issues", "decision": "ruling",
    "meeting": "session", "talks": "negotiations", "deal": "agreement", "group": "organisation",
    "added": "continued", "move": "step", "likely": "probable", "strong": "robust", "weak": "soft",
    "high": "elevated", "low": "depressed", "early": "initial", "late": "delayed", "now": "currently",
    "still": "nonetheless", "around": "roughly", "show's": "programme's", "film": "movie",
    "win": "victory", "won": "secured", "lost": "was defeated in", "team": "side", "game": "match",
    "players": "athletes", "minister": "secretary", "party": "faction", "election": "vote",
    "result": "outcome", "results": "outcomes", "change": "shift", "changes": "shifts",
}
_WORD = re.compile(r"[A-Za-z][A-Za-z']*")
_SENT = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'])")


def _synonyms(text: str, rng: random.Random, share: float) -> str:
    def swap(match: re.Match[str]) -> str:
        word = match.group(0)
        replacement = SYNONYMS.get(word.lower())
        if replacement is None or rng.random() >= share:
            return word
        return replacement.capitalize() if word[0].isupper() else replacement

    return _WORD.sub(swap, text)


def rewrite(text: str, title: str | None, kind: str, rng: random.Random) -> tuple[str, str | None]:
    """A seeded rewrite of a news article: sentence drops, reordering, merges, synonyms.

    Args:
        text: the article body.
        title: its headline.
        kind: ``close``, ``condensed`` or ``paraphrase`` (see the module docstring).
        rng: the random generator (seeded by the caller).

    Returns:
        ``(text, title)`` of the rewrite. The first sentence (the lead) is always kept.
    """
    sentences = [s.strip() for p in text.split("\n") for s in _SENT.split(p) if s.strip()]
    drop, merge, reorder, share = {"close": (0.1, 0.0, 0.0, 0.5), "condensed": (0.5, 0.3, 0.0, 0.3),
                                   "paraphrase": (0.2, 0.3, 0.3, 0.95)}[kind]
    kept = sentences[:1] + [s for s in sentences[1:] if rng.random() >= drop]
    if reorder:
        body = kept[1:]
        for i in range(len(body) - 1):
            if rng.random() < reorder:
                body[i], body[i + 1] = body[i + 1], body[i]
        kept = kept[:1] + body
    merged: list[str] = []
    for sentence in kept:
        if merged and merge and rng.random() < merge and merged[-1].endswith("."):
            merged[-1] = merged[-1][:-1] + ", and " + sentence[:1].lower() + sentence[1:]
        else:
            merged.append(sentence)
    paragraphs = [" ".join(merged[i : i + 2]) for i in range(0, len(merged), 2)]
    new_text = "\n\n".join(_synonyms(p, rng, share) for p in paragraphs)
    new_title = _synonyms(title, rng, 1.0) if title else title
    return new_text, new_title


def _shingles(text: str, n: int = 3) -> set[tuple[str, ...]]:
    words = [w.lower() for w in _WORD.findall(text)]
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def build_corpus(size: int, seed: int = SEED) -> tuple[list[Any], dict[str, Any]]:
    """Documents and truth: ``edges`` (derivative, source, kind) and ``undirected`` Reuters pairs."""
    from retold.model import Document

    rng = random.Random(seed)
    pan_root = DATA / "pan13-train"
    pan_pairs: list[tuple[str, str]] = []
    for folder in ("02-no-obfuscation", "03-random-obfuscation"):
        lines = (pan_root / folder / "pairs").read_text().split()
        pairs = list(zip(lines[0::2], lines[1::2]))
        pan_pairs.extend(pairs[: PAN_PAIRS // 2])
    n_rewrites = int(size * REWRITE_SHARE)
    pan_docs = {name for pair in pan_pairs for name in pair}
    n_base = size - n_rewrites - len(pan_docs)
    seen_texts: set[str] = set()
    base: list[Document] = []
    titled: dict[str, str] = {}
    for record in _read_jsonl(DATA / "news" / "bbc-2004-2005.jsonl"):
        if len(base) >= n_base:
            break
        if record["text"] in seen_texts:
            continue
        seen_texts.add(record["text"])
        base.append(Document(text=record["text"], id=f"bbc/{record['id']}", name=f"bbc/{record['id']}",
                             title=record.get("title")))
        titled[f"bbc/{record['id']}"] = record.get("title") or ""
    reuters_meta: dict[str, dict[str, Any]] = {}
    for record in _read_jsonl(DATA / "news" / "reuters-21578.jsonl"):
        if len(base) >= n_base:
            break
        text = (record.get("text") or "").strip()
        if len(text) < 200 or text in seen_texts:
            continue
        seen_texts.add(text)
        doc_id = f"reuters/{record['newid']}"
        base.append(Document(text=text, id=doc_id, name=doc_id, title=(record.get("title") or "").strip() or None,
                             published=record.get("date")))
        reuters_meta[doc_id] = record
        titled[doc_id] = record.get("title") or ""
    # Beyond the real articles (~19k), copies of them with new ids fill the corpus (100k). A copy
    # ends with one line naming it, so its content hash differs and the store keeps it.
    originals = list(base)
    copies: dict[str, str] = {}
    number = 0
    while len(base) < n_base and originals:
        original = originals[number % len(originals)]
        generation = number // len(originals) + 1
        doc_id = f"{original.id}~copy{generation}"
        base.append(Document(text=f"{original.text}\n\nArchive copy {generation}.", id=doc_id, name=doc_id,
                             title=original.title, published=original.published))
        copies[doc_id] = original.id
        number += 1
    truth_edges: list[dict[str, str]] = []
    documents = list(base)
    for name in sorted(pan_docs):
        folder = "susp" if name.startswith("suspicious") else "src"
        text = (pan_root / folder / name).read_text(encoding="utf-8")
        documents.append(Document(text=text, id=f"pan/{name}", name=f"pan/{name}"))
    for susp, src in pan_pairs:
        truth_edges.append({"derivative": f"pan/{susp}", "source": f"pan/{src}", "kind": "pan"})
    eligible = [d for d in originals if 600 <= len(d.text) <= 6000]
    kinds = ("close", "condensed", "paraphrase")
    for number in range(n_rewrites):
        source = rng.choice(eligible)
        kind = kinds[number % 3]
        text, title = rewrite(source.text, source.title, kind, rng)
        doc_id = f"rewrite/{number:05d}-{kind}"
        published = None
        if source.published:
            published = source.published[:10] + "T23:59:00"
        documents.append(Document(text=text, id=doc_id, name=doc_id, title=title, published=published))
        truth_edges.append({"derivative": doc_id, "source": source.id, "kind": kind})
    # Reuters re-issues: same normalised title and >= 80 % 3-gram containment.
    by_title: dict[str, list[str]] = defaultdict(list)
    texts = {d.id: d.text for d in originals}
    for doc_id, raw_title in titled.items():
        title = re.sub(r"\W+", " ", raw_title.upper()).strip()
        if title:
            by_title[title].append(doc_id)
    undirected: list[list[str]] = []
    for ids in by_title.values():
        if len(ids) < 2 or len(ids) > 30:
            continue
        grams = {i: _shingles(texts[i]) for i in ids}
        for i, a in enumerate(ids):
            for b in ids[i + 1 :]:
                small, large = sorted((grams[a], grams[b]), key=len)
                if small and len(small & large) / len(small) >= 0.8:
                    undirected.append(sorted((a, b)))
    rng.shuffle(documents)
    # (BBC has near-identical copies of one story under two ids, beside its byte-identical ones.)
    return documents, {"edges": truth_edges, "reissues": undirected, "copies": copies}


def _rss_mb() -> dict[str, float]:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"main_mb": round(own, 1), "largest_worker_mb": round(children, 1)}


def run_size(size: int, workdir: Path) -> dict[str, Any]:
    """Index, trace and scan a corpus of ``size`` documents in ``workdir``."""
    from retold.compare import Settings, compare_documents
    from retold.index import Index
    from retold.retrieve import candidates
    from retold.scan import ScanSettings, scan
    from retold.trace import trace

    out: dict[str, Any] = {"size": size}
    documents, truth = build_corpus(size)
    by_id = {d.id: d for d in documents}
    out["corpus"] = {
        "documents": len(documents),
        "rewrites": sum(1 for e in truth["edges"] if e["kind"] != "pan"),
        "pan_pairs": sum(1 for e in truth["edges"] if e["kind"] == "pan"),
        "reissue_pairs": len(truth["reissues"]),
    }
    store = workdir / f"store-{size}"
    started = time.perf_counter()
    with Index.open(store, create=True) as index:
        report = index.add(documents)
    index_s = time.perf_counter() - started
    out["index"] = {"added": report.added, "duplicates": report.duplicates, "seconds": round(index_s, 1),
                    "docs_per_s": round(report.added / index_s, 1)}

    derived = [e for e in truth["edges"]]
    with Index.open(store) as index:
        # Candidate recall: the true source among the candidates (limit 10), and among the pairs scan judges.
        scan_defaults = ScanSettings()
        hits = hits_whole = hits_judged = 0
        per_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        retrieve_ms = []
        ids = {d.id for d in documents}
        for edge in derived:
            if edge["derivative"] not in ids or edge["source"] not in ids:
                continue
            t0 = time.perf_counter()
            found = candidates(index, index.get(edge["derivative"]), limit=scan_defaults.limit_candidates)
            retrieve_ms.append((time.perf_counter() - t0) * 1000)
            hit = any(c.doc_id == edge["source"] for c in found)
            hits += hit
            # scan searches whole documents (no windows): what it judges
            whole = candidates(index, index.get(edge["derivative"]), limit=scan_defaults.limit_candidates,
                               windows=False)
            got = [c for c in whole if c.doc_id == edge["source"]]
            hits_whole += bool(got)
            hits_judged += bool(got and got[0].score >= scan_defaults.min_candidate_score)
            per_kind[edge["kind"]][0] += hit
            per_kind[edge["kind"]][1] += 1
        out["candidate_recall"] = {
            "derived_documents": len(retrieve_ms),
            "source_in_top10": round(hits / len(retrieve_ms), 4),
            "source_in_top10_whole_documents": round(hits_whole / len(retrieve_ms), 4),
            "source_in_judged_pairs": round(hits_judged / len(retrieve_ms), 4),
            "by_kind": {k: round(v[0] / v[1], 4) for k, v in per_kind.items()},
            "retrieve_ms_median": round(statistics.median(retrieve_ms), 1),
        }
        trace_ms = []
        for edge in derived[:5]:
            t0 = time.perf_counter()
            trace(index, index.get(edge["derivative"]), limit=5, compare_top=0)
            trace_ms.append((time.perf_counter() - t0) * 1000)
        out["trace"] = {"limit": 5, "median_ms": round(statistics.median(trace_ms), 1),
                        "note": "trace = retrieval + 5 full semantic compares (USE)"}

    # 10k: the lexical tier only (on 1k the semantic escalations cost 3x the time and added no true
    # edge), to stay within the benchmark's time budget.
    modes = ("never", "auto") if size <= 2000 else ("never",)
    out["scan"] = {}
    for mode in modes:
        started = time.perf_counter()
        with Index.open(store, writable=True) as index:
            result = scan(index, scan_settings=ScanSettings(escalate=mode), restart=True)
        scan_s = time.perf_counter() - started
        entry: dict[str, Any] = {"seconds": round(scan_s, 1), "docs_per_s": round(size / scan_s, 1),
                                 "stats": {k: (round(v, 1) if isinstance(v, float) else v)
                                           for k, v in vars(result.stats).items()}}
        entry.update(_score_edges(result, truth, ids))
        if mode == modes[-1]:
            t0 = time.perf_counter()
            result.write(workdir / f"out-{size}", compares=size <= 2000)
            entry["export_s"] = round(time.perf_counter() - t0, 1)
            # What would the semantic compare have made of the true pairs the tiers missed?
            missed = entry.pop("_missed")
            semantic_hits = 0
            for d, s in missed[:40]:
                r = compare_documents(by_id[d], by_id[s], Settings())
                semantic_hits += r.verdict.derived
            entry["missed_true_edges_sampled"] = min(40, len(missed))
            entry["missed_but_semantic_compare_says_derived"] = semantic_hits
        else:
            entry.pop("_missed")
        out["scan"][mode] = entry
    out["peak_rss"] = _rss_mb()
    return out


def _score_edges(result: Any, truth: dict[str, Any], ids: set[str]) -> dict[str, Any]:
    """Edge precision and recall against the truth.

    A copy made to fill the corpus (``truth["copies"]``, 100k) stands for its original: an edge
    between two copies of one article is a true copy edge, and a rewrite linked to any copy of its
    source is linked to its source.
    """
    copies: dict[str, str] = truth.get("copies", {})

    def original(doc_id: str) -> str:
        return copies.get(doc_id, doc_id)

    true_directed = {(e["derivative"], e["source"]): e["kind"] for e in truth["edges"]
                     if e["derivative"] in ids and e["source"] in ids}
    true_pairs = {frozenset(p) for p in true_directed} | {frozenset(p) for p in truth["reissues"]}
    # Documents that share a story in the truth (a rewrite, its source, the source's re-issues, siblings).
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            x = parent[x]
        return x

    for pair in true_pairs:
        a, b = sorted(pair)
        parent[find(a)] = find(b)
    predicted_raw = {frozenset((e.derivative, e.source)): e for e in result.edges}
    copy_edges = sum(1 for p in predicted_raw if len({original(x) for x in p}) == 1 and len(p) == 2)
    # edges between different articles, by original: (a copy's edges are its original's)
    predicted: dict[frozenset[str], Any] = {}
    for pair, edge in predicted_raw.items():
        key = frozenset(original(x) for x in pair)
        if len(key) == 2:
            predicted.setdefault(key, replace(edge, derivative=original(edge.derivative), source=original(edge.source)))
    tp = sum(1 for p in predicted if p in true_pairs)
    same_story = sum(1 for p in predicted if p not in true_pairs and len({find(x) for x in p}) == 1)
    fps = [sorted(p) for p in predicted if p not in true_pairs and len({find(x) for x in p}) > 1]
    # Recall over true pairs: linked directly, or put in the same cluster (the reduction may keep
    # rewrite -> re-issue instead of rewrite -> original).
    cluster_of = {original(d): c.id for c in result.clusters for d in c.documents if original(d) == d}
    direct = sum(1 for p in true_pairs if p in predicted)
    clustered = sum(1 for p in true_pairs if len({cluster_of.get(x, x) for x in p}) == 1)
    direction_ok = sum(1 for (d, s) in true_directed if frozenset((d, s)) in predicted
                       and predicted[frozenset((d, s))].derivative == d)
    direction_n = sum(1 for (d, s) in true_directed if frozenset((d, s)) in predicted)
    by_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for (d, s), kind in true_directed.items():
        by_kind[kind][0] += frozenset((d, s)) in predicted
        by_kind[kind][1] += 1
    missed = [(d, s) for (d, s) in true_directed if frozenset((d, s)) not in predicted
              and len({cluster_of.get(d, d), cluster_of.get(s, s)}) > 1]
    n_pred = len(predicted) or 1
    strong = {p: e for p, e in predicted.items() if e.coverage_derivative >= 0.5}
    return {
        "edges": len(predicted_raw),
        "copy_edges": copy_edges,
        "edges_between_articles": len(predicted),
        "true_pairs": len(true_pairs),
        "precision_strict": round(tp / n_pred, 4),
        "precision_strict_with_copy_edges": round((tp + copy_edges) / (len(predicted_raw) or 1), 4),
        "precision_same_story": round((tp + same_story) / n_pred, 4),
        "edges_coverage50": len(strong),
        "precision_strict_coverage50": round(sum(1 for p in strong if p in true_pairs) / (len(strong) or 1), 4),
        "recall_direct_edge_coverage50": round(sum(1 for p in true_pairs if p in strong) / len(true_pairs), 4),
        "edge_types": dict(sorted(__import__("collections").Counter(e.type for e in predicted_raw.values()).items())),
        "recall_direct_edge": round(direct / len(true_pairs), 4),
        "recall_same_cluster": round(clustered / len(true_pairs), 4),
        "largest_clusters": sorted((len(c.documents) for c in result.clusters), reverse=True)[:5],
        "documents_in_clusters": sum(len(c.documents) for c in result.clusters),
        "recall_by_kind": {k: round(v[0] / v[1], 4) for k, v in by_kind.items()},
        "direction_accuracy": round(direction_ok / direction_n, 4) if direction_n else None,
        "false_positive_sample": fps[:10],
        "false_positives": len(fps),
        "_missed": missed,
    }


def bench_index(size: int, store: Path) -> dict[str, Any]:
    """Index the ``size`` corpus into a new ``store``: wall time, docs/s and CPU time per document.

    The CPU time (this process and its feature workers, user + system) does not depend on what
    else runs on the machine; ``docs_per_s_2_cores`` = 2000 / CPU ms per document is the rate two
    otherwise idle cores would reach when the work splits evenly (the parent writes SQLite while
    two workers compute features).
    """
    import os

    from retold.encoders import get_encoder
    from retold.index import Index

    documents, _ = build_corpus(size)
    get_encoder("use-m3")  # loading the model is not indexing
    load_before = os.getloadavg()[0]
    cpu_before = os.times()
    started = time.perf_counter()
    with Index.open(store, create=True) as index:
        report = index.add(documents)
    seconds = time.perf_counter() - started
    cpu_after = os.times()
    cpu_s = sum(getattr(cpu_after, f) - getattr(cpu_before, f)
                for f in ("user", "system", "children_user", "children_system"))
    cpu_ms = cpu_s / max(1, report.added) * 1000
    return {"added": report.added, "duplicates": report.duplicates, "seconds": round(seconds, 1),
            "docs_per_s": round(report.added / seconds, 1), "cpu_ms_per_doc": round(cpu_ms, 2),
            "docs_per_s_2_cores": round(2000 / cpu_ms, 1), "load_avg_before": round(load_before, 2),
            "load_avg_after": round(os.getloadavg()[0], 2), "workers": min(os.cpu_count() or 1, 8)}


def bench_scan(size: int, store: Path) -> dict[str, Any]:
    """Scan the ``size`` store from scratch with ``retold scan`` (two tiers, 2 workers) and score it.

    The scan runs as the CLI in a subprocess; the resident memory of its whole process tree (the
    scan and its workers together) is sampled every 0.5 s, so ``peak_rss_mb_total`` is what the
    machine had to hold at once. Edges are scored against the corpus truth as in :func:`run_size`.
    """
    import os

    import psutil

    from retold.index import Index
    from retold.scan import load_scan

    command = [sys.executable, "-m", "retold.cli", "scan", str(store), "--restart", "--quiet"]
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    root = psutil.Process(process.pid)
    peak_total = peak_worker = 0.0
    cpu_s = 0.0
    while process.poll() is None:
        try:
            tree = [root, *root.children(recursive=True)]
            rss = [proc.memory_info().rss / 2**20 for proc in tree]
            cpu_s = max(cpu_s, sum(sum(proc.cpu_times()[:2]) for proc in tree))
        except psutil.Error:  # a process ended between listing and reading it
            continue
        peak_total = max(peak_total, sum(rss))
        peak_worker = max(peak_worker, max(rss[1:], default=0.0))
        time.sleep(0.5)
    seconds = time.perf_counter() - started
    stderr = process.stderr.read() if process.stderr else ""
    if process.returncode != 0:
        raise RuntimeError(f"retold scan failed ({process.returncode}): {stderr.strip()[-500:]}")
    with Index.open(store) as index:
        result = load_scan(index)
        stats = index.db.execute("SELECT stage, COUNT(*) FROM results GROUP BY stage").fetchall()
    documents, truth = build_corpus(size)
    scored = _score_edges(result, truth, {d.id for d in documents})
    scored.pop("_missed")
    return {"seconds": round(seconds, 1), "minutes": round(seconds / 60, 1), "docs_per_s": round(size / seconds, 1),
            "cpu_s_sampled": round(cpu_s, 1), "peak_rss_mb_total": round(peak_total, 1),
            "peak_rss_mb_largest_worker": round(peak_worker, 1), "pairs_by_stage": dict(stats),
            "load_avg_before": round(load_before, 2), "summary": stderr.strip().splitlines()[-1:],
            **scored}


def bench_pan_retrieval(workdir: Path, per_category: int = 60, distractors: int = 1000) -> dict[str, Any]:
    """Candidate recall on PAN 2013's multi-source documents, whole-document vs window search.

    ``per_category`` (suspicious, source) pairs of each plagiarism category (seeded sample) and
    ``distractors`` BBC articles go into one store; for each pair, is the source among the
    suspicious document's top 10 candidates? PAN suspicious documents reuse short passages of
    up to ten sources each, the hard case for document-level retrieval (the main corpus holds only
    ten PAN pairs).
    """
    from retold.index import Index
    from retold.model import Document
    from retold.retrieve import candidates

    root = DATA / "pan13-train"
    rng = random.Random(SEED)
    pairs: list[tuple[str, str, str]] = []
    for folder in ("02-no-obfuscation", "03-random-obfuscation", "04-translation-obfuscation",
                   "05-summary-obfuscation"):
        lines = (root / folder / "pairs").read_text().split()
        sample = list(zip(lines[0::2], lines[1::2]))
        rng.shuffle(sample)
        pairs += [(folder[3:], susp, src) for susp, src in sample[:per_category]]
    names = sorted({name for _, susp, src in pairs for name in (susp, src)})
    docs = [Document(text=(root / ("susp" if n.startswith("susp") else "src") / n).read_text(encoding="utf-8"),
                     id=n, name=n) for n in names]
    docs += [Document(text=r["text"], id=f"bbc/{r['id']}", name=f"bbc/{r['id']}", title=r.get("title"))
             for r, _ in zip(_read_jsonl(DATA / "news" / "bbc-2004-2005.jsonl"), range(distractors))]
    store = workdir / "pan-retrieval-store"
    with Index.open(store, create=True) as index:
        index.add(docs)
    out: dict[str, Any] = {"pairs": len(pairs), "documents": len(docs)}
    with Index.open(store) as index:
        for label, windows in (("whole_documents", False), ("windows", True)):
            hits: dict[str, list[int]] = defaultdict(lambda: [0, 0])
            started = time.perf_counter()
            for category, susp, src in pairs:
                found = candidates(index, index.get(susp), limit=10, windows=windows)
                hits[category][0] += any(c.doc_id == src for c in found)
                hits[category][1] += 1
            out[label] = {"recall_top10": round(sum(h[0] for h in hits.values()) / len(pairs), 4),
                          "by_category": {k: round(h[0] / h[1], 4) for k, h in hits.items()},
                          "ms_per_query": round((time.perf_counter() - started) / len(pairs) * 1000, 1)}
    return out


def bench_trace(size: int, store: Path, n: int = 20, limit: int = 5) -> dict[str, Any]:
    """Time :func:`retold.trace.trace` for ``n`` derived documents (rewrites and PAN suspicious ones).

    Each derived document is traced twice against an open store: with the two-tier compare
    (``escalate="auto"``, the default) and with a full semantic compare of every candidate
    (``"always"``, the behaviour before the tiers). The encoder's sentence cache is emptied before
    every trace, so no trace profits from sentences an earlier one encoded (a long-running server
    would). Reported: the first query (it reads the LSH bands and the vector file), then median,
    p90 and max of the rest, per mode; and quality: how often the true source is ranked first as
    the article's source (``true_source_first``), or the source, a copy of it or another rewrite
    of it (``same_story_first``), and how often the two modes agree on the first source and its
    relation.
    """
    from retold.encoders import get_encoder
    from retold.index import Index
    from retold.trace import TraceSettings, trace

    documents, truth = build_corpus(size)
    by_id = {d.id: d for d in documents}
    copies_of: dict[str, set[str]] = defaultdict(set)
    for copy, original in truth["copies"].items():
        copies_of[original].add(copy)
    for edge in truth["edges"]:  # another rewrite of the same article is a sibling, not the source
        copies_of[edge["source"]].add(edge["derivative"])
    edges = [e for e in truth["edges"] if e["kind"] != "pan"][: n - 2] + [e for e in truth["edges"]
                                                                        if e["kind"] == "pan"][:2]
    encoder: Any = get_encoder("use-m3")
    encoder.encode(["warm up the encoder"])
    out: dict[str, Any] = {"documents": size, "traced": len(edges), "limit": limit}
    tops: dict[str, list[tuple[str, str]]] = {}
    misses: dict[str, list[list[str]]] = {}
    started = time.perf_counter()
    with Index.open(store) as index:
        out["open_s"] = round(time.perf_counter() - started, 3)
        for mode in ("auto", "always"):
            times: list[float] = []
            first_ok = 0
            first_story = 0
            semantic = 0
            tops[mode] = []
            for edge in edges:
                article = by_id[edge["derivative"]]
                encoder._cache.clear()
                t0 = time.perf_counter()
                result = trace(index, article, limit=limit, compare_top=1,
                               trace_settings=TraceSettings(escalate=mode))
                times.append((time.perf_counter() - t0) * 1000)
                semantic += result.compared_semantically
                best = result.sources[0] if result.sources else None
                tops[mode].append((best.doc_id, best.relation) if best else ("", ""))
                story = {edge["source"]} | copies_of.get(edge["source"], set())
                ok = bool(best and best.doc_id == edge["source"] and best.relation in ("source", "related"))
                first_story += bool(best and best.doc_id in story and best.relation in ("source", "related"))
                first_ok += ok
                if not ok:
                    misses.setdefault(mode, []).append(
                        [edge["derivative"], edge["source"], *(tops[mode][-1] if best else ("", ""))])
            rest = sorted(times[1:]) or times
            out[mode] = {
                "first_ms": round(times[0], 1),
                "median_ms": round(statistics.median(rest), 1),
                "p90_ms": round(rest[int(0.9 * (len(rest) - 1))], 1),
                "max_ms": round(max(rest), 1),
                "semantic_compares_per_trace": round(semantic / len(edges), 2),
                "true_source_first": round(first_ok / len(edges), 4),
                "same_story_first": round(first_story / len(edges), 4),
            }
    out["misses"] = misses
    out["modes_agree_on_first_source"] = round(
        sum(a[0] == b[0] for a, b in zip(tops["auto"], tops["always"])) / len(edges), 4)
    out["modes_agree_on_first_relation"] = round(
        sum(a == b for a, b in zip(tops["auto"], tops["always"])) / len(edges), 4)
    return out


def speed(size: int, workdir: Path, trace_only: bool = False, index_only: bool = False,
          scan_only: bool = False) -> dict[str, Any]:
    """Index throughput, trace latency and scan time at one size (the store is kept in ``workdir``)."""
    store = workdir / f"speed-store-{size}"
    out: dict[str, Any] = {"size": size}
    if scan_only:
        out["scan"] = bench_scan(size, store)
        return out
    if not trace_only:
        out["index"] = bench_index(size, store)
    if not index_only:
        out["trace"] = bench_trace(size, store)
    out["peak_rss"] = _rss_mb()
    return out


def record_speed(result: dict[str, Any], note: str | None = None) -> None:
    """Store one :func:`speed` result under ``speed.<size>`` in ``bench/results/collections.json``.

    The other entries of the file (the full runs under ``sizes``) are kept as they are.
    """
    import os

    path = RESULTS / "collections.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    entry = dict(result)
    entry["cpus"] = os.cpu_count()
    entry["measured_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    if note:
        entry["note"] = note
    results.setdefault("speed", {})[str(result["size"])] = entry
    path.write_text(json.dumps(results, indent=2) + "\n")


def run(sizes: tuple[int, ...] = SIZES) -> dict[str, Any]:
    """Run each size in its own process and write ``bench/results/collections.json``."""
    results: dict[str, Any] = {"sizes": {}, "cpus": __import__("os").cpu_count()}
    for size in sizes:
        with tempfile.NamedTemporaryFile(suffix=".json") as handle:
            subprocess.run([sys.executable, "-m", "bench.collections", str(size), handle.name], check=True, cwd=ROOT)
            results["sizes"][str(size)] = json.loads(Path(handle.name).read_text())
    with tempfile.TemporaryDirectory(prefix="retold-pan-retrieval-") as tmp:
        results["pan_retrieval"] = bench_pan_retrieval(Path(tmp))
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "collections.json"
    if path.exists():  # keep the speed runs (100k) filed by record_speed
        results["speed"] = json.loads(path.read_text()).get("speed", {})
    path.write_text(json.dumps(results, indent=2) + "\n")
    return results


def main(argv: list[str]) -> int:
    if argv and argv[0] == "speed":
        # python -m bench.collections speed SIZE WORKDIR [--index-only|--trace-only|--scan-only]
        result = speed(int(argv[1]), Path(argv[2]), trace_only="--trace-only" in argv,
                       index_only="--index-only" in argv, scan_only="--scan-only" in argv)
        print(json.dumps(result, indent=2))
        return 0
    size = int(argv[0])
    with tempfile.TemporaryDirectory(prefix="retold-collections-") as tmp:
        workdir = Path(argv[2]) if len(argv) > 2 else Path(tmp)
        result = run_size(size, workdir)
    text = json.dumps(result, indent=2)
    if len(argv) > 1:
        Path(argv[1]).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
