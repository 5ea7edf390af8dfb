"""Fact-diff benchmark on real news nobody here wrote, with seeded synthetic distortions.

For 300+ articles from ../shared/data/news (BBC 2004-05 and Reuters-21578) we build a rewrite:
an ordinary fact-preserving paraphrase (synonyms for common words, swapped sentence order inside
paragraphs) and, for most articles, one distortion of a known kind at a known place:

- ``number``: a number's value changed ("42" → "47");
- ``entity``: a person/organisation/place name swapped for another of the same type from the corpus;
- ``hedge``: a hedge weakened or strengthened ("more than 20" → "nearly 20");
- ``quote``: one word altered inside a quotation;
- ``delete``: a sentence holding a number deleted (the number, or the year, must be reported dropped);
- ``insert``: a sentence with a new number and a new name inserted (both must be reported added).

The rest get the paraphrase only (``control``): every "changed" reported there is a false alarm.
``retold.compare(rewrite, original)`` runs and its fact diff is scored: recall = distortions found
(right status and kind, overlapping the distorted place), precision = share of reported changes of
that kind that are the distortion. Writes ``bench/results/facts.json``.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
NEWS = ROOT.parent / "shared" / "data" / "news"
RESULTS = ROOT / "bench" / "results"
KINDS = ("number", "entity", "hedge", "quote", "delete", "insert")

SYNONYMS = {
    "said": "stated", "says": "states", "also": "additionally", "big": "large", "buy": "purchase",
    "bought": "purchased", "started": "began", "start": "begin", "help": "assist", "shows": "indicates",
    "show": "indicate", "plans": "intends", "wanted": "wished", "get": "obtain", "got": "obtained",
    "rise": "increase", "rose": "climbed", "fell": "dropped", "but": "yet", "very": "highly",
    "important": "significant", "hard": "difficult", "quickly": "rapidly", "about": "roughly",
}
HEDGE_SWAPS = {
    "more than": "nearly", "over": "almost", "about": "at least", "around": "more than",
    "nearly": "more than", "almost": "over", "up to": "at least", "at least": "about",
}
NEW_NAMES = ("Marta Ekdahl", "Tobias Renner", "Ines Castellano", "Oskar Lindqvist", "Priya Natarajan")


@dataclass
class Case:
    kind: str
    original: str
    rewrite: str
    start: int = -1  # distorted region in the rewrite (or, for delete, in the original)
    end: int = -1
    value: str = ""


def load_articles(count: int, rng: random.Random) -> list[str]:
    texts: list[str] = []
    for name in ("bbc-2004-2005.jsonl", "reuters-21578.jsonl"):
        with (NEWS / name).open(encoding="utf-8") as handle:
            records = [json.loads(line) for line in handle]
        bodies = [r["text"] for r in records if r.get("text") and 1200 <= len(r["text"]) <= 5000]
        rng.shuffle(bodies)
        texts.extend(bodies[: count // 2])
    return texts


def paraphrase(text: str, rng: random.Random) -> str:
    """Fact-preserving edits: common-word synonyms outside quotes, adjacent sentence swaps."""
    out_lines = []
    for line in text.split("\n"):
        sentences = re.split(r"(?<=[.!?])\s+(?=[A-Z])", line)
        if len(sentences) >= 2 and rng.random() < 0.3:
            i = rng.randrange(len(sentences) - 1)
            sentences[i], sentences[i + 1] = sentences[i + 1], sentences[i]
        line = " ".join(sentences)
        pieces = re.split(r"(\"[^\"]*\"|“[^”]*”)", line)
        for j in range(0, len(pieces), 2):
            pieces[j] = re.sub(
                r"\b(" + "|".join(SYNONYMS) + r")\b",
                lambda m: SYNONYMS[m.group(1)] if rng.random() < 0.5 else m.group(1),
                pieces[j],
            )
        out_lines.append("".join(pieces))
    return "\n".join(out_lines)


def _facts(text: str) -> list[Any]:
    from retold.facts import extract_facts

    return extract_facts(text)


def distort(kind: str, original: str, rewrite: str, rng: random.Random, names: dict[str, list[str]]) -> Case | None:
    facts = _facts(rewrite)
    if kind == "number":
        numbers = [f for f in facts if f.kind == "number" and re.fullmatch(r"\d{1,3}(,\d{3})*", _digits(f.text))
                   and not re.search(r"\d[.,]\d", rewrite[f.span.start : f.span.end].replace(_digits(f.text), "", 1))]
        if not numbers:
            return None
        fact = rng.choice(numbers)
        digits = _digits(fact.text)
        old = int(digits.replace(",", ""))
        new = old + rng.choice([3, 7, 11, 25]) if old < 1000 else old * 2
        new_text = f"{new:,}" if "," in digits else str(new)
        at = rewrite.index(digits, fact.span.start)
        return Case(kind, original, rewrite[:at] + new_text + rewrite[at + len(digits):], at, at + len(new_text), new_text)
    if kind == "entity":
        entities = [f for f in facts if f.kind in ("person", "org", "place") and len(names.get(f.kind, [])) > 5]
        if not entities:
            return None
        fact = rng.choice(entities)
        choices = [n for n in names[fact.kind] if n not in original and n.split()[-1] not in original]
        if not choices:
            return None
        new = rng.choice(choices)
        return Case(kind, original, rewrite[: fact.span.start] + new + rewrite[fact.span.end :],
                    fact.span.start, fact.span.start + len(new), new)
    if kind == "hedge":
        pattern = re.compile(
            r"\b(" + "|".join(re.escape(h) for h in HEDGE_SWAPS) + r")\s+(?=[$£€]?\d)(?!(?:19|20)\d\d\b)", re.IGNORECASE
        )
        matches = list(pattern.finditer(rewrite))
        if not matches:
            return None
        match = rng.choice(matches)
        new = HEDGE_SWAPS[match.group(1).lower()]
        return Case(kind, original, rewrite[: match.start(1)] + new + rewrite[match.end(1) :],
                    match.start(1), match.start(1) + len(new), new)
    if kind == "quote":
        quotes = [f for f in facts if f.kind == "quote" and len(f.text.split()) >= 6]
        if not quotes:
            return None
        fact = rng.choice(quotes)
        words = list(re.finditer(r"\b[a-z]{4,}\b", rewrite[fact.span.start : fact.span.end]))
        if not words:
            return None
        word = rng.choice(words)
        new = "never" if word.group() != "never" else "always"
        at = fact.span.start + word.start()
        return Case(kind, original, rewrite[:at] + new + rewrite[at + len(word.group()) :], at, at + len(new), new)
    if kind == "delete":
        sentences = [m for m in re.finditer(r"[^.\n]*\b\d[\d,.]*\b[^.\n]*\.", rewrite)]
        if not sentences:
            return None
        match = rng.choice(sentences)
        numbers = re.findall(r"\d[\d,.]*\d|\d", match.group())
        value = numbers[0]
        if rewrite.count(value) > 1:
            return None
        at = original.find(value)
        return Case(kind, original, rewrite[: match.start()] + rewrite[match.end() :], at, at + len(value), value)
    if kind == "insert":
        number = rng.randint(13, 987)
        name = rng.choice(NEW_NAMES)
        sentence = f" Analyst {name} estimated that {number} jobs could be affected."
        breaks = [m.end() for m in re.finditer(r"\.(?=\s)", rewrite)]
        if not breaks:
            return None
        at = rng.choice(breaks)
        text = rewrite[:at] + sentence + rewrite[at:]
        return Case(kind, original, text, at + 1, at + len(sentence), f"{number}|{name}")
    raise ValueError(kind)


def _digits(text: str) -> str:
    match = re.search(r"\d[\d,]*(?:\.\d+)?", text)
    return match.group().rstrip(",") if match else ""


def _overlaps(span: Any, start: int, end: int) -> bool:
    return span is not None and span.start < end and start < span.end


def found(case: Case, facts: list[Any]) -> tuple[bool, int]:
    """Was the distortion reported, and how many reports of this kind are there in all?"""
    if case.kind in ("number", "entity", "hedge", "quote"):
        change_names = {
            "number": ("value",), "entity": ("entity",), "hedge": ("hedge",),
            "quote": ("quote-altered", "quote-not-found"),
        }[case.kind]
        reports = [f for f in facts if f.status == "changed" and f.change in change_names]
        if case.kind == "entity":
            reports += [f for f in facts if f.status == "added" and f.kind in ("person", "org", "place", "name")]
        hit = any(f.derivative is not None and _overlaps(f.derivative.span, case.start, case.end) for f in reports)
        return hit, len(reports)
    if case.kind == "delete":
        reports = [f for f in facts if f.status == "dropped" and f.kind in ("number", "date", "identifier")]
        hit = any(f.source is not None and _overlaps(f.source.span, case.start, case.end) for f in reports)
        return hit, len(reports)
    reports = [f for f in facts if f.status == "added"]
    number, name = case.value.split("|")
    hit_number = any(f.derivative is not None and number in f.derivative.text for f in reports)
    hit_name = any(f.derivative is not None and name.split()[-1] in f.derivative.text for f in reports)
    return hit_number and hit_name, len(reports)


def run(count: int = 420, seed: int = 2026) -> dict[str, Any]:
    import retold

    rng = random.Random(seed)
    articles = load_articles(count, rng)
    names: dict[str, list[str]] = defaultdict(list)
    for text in articles[:120]:
        for fact in _facts(text):
            if fact.kind in ("person", "org", "place") and len(fact.text.split()) >= 2:
                names[fact.kind].append(fact.text)
    names = {k: sorted(set(v)) for k, v in names.items()}
    stats: dict[str, Counter[str]] = defaultdict(Counter)
    controls = Counter()
    for i, original in enumerate(articles):
        rewrite = paraphrase(original, rng)
        kind = KINDS[i % (len(KINDS) + 1)] if i % (len(KINDS) + 1) < len(KINDS) else "control"
        if kind == "control":
            result = retold.compare(rewrite, original)
            changed = [f for f in result.facts if f.status == "changed"]
            kept = [f for f in result.facts if f.status == "kept"]
            controls["articles"] += 1
            controls["changed_reports"] += len(changed)
            controls["kept"] += len(kept)
            continue
        case = None
        for attempt in range(len(KINDS)):  # an article without a target for this kind tries the next
            case = distort(kind, original, rewrite, rng, names)
            if case is not None:
                break
            stats[kind]["skipped"] += 1
            kind = KINDS[(KINDS.index(kind) + 1) % len(KINDS)]
        if case is None:
            continue
        result = retold.compare(case.rewrite, case.original)
        hit, reports = found(case, list(result.facts))
        stats[kind]["cases"] += 1
        stats[kind]["found"] += int(hit)
        stats[kind]["reports"] += reports
        stats[kind]["true_reports"] += int(hit)
    per_kind = {}
    for kind in KINDS:
        s = stats[kind]
        per_kind[kind] = {
            "cases": s["cases"],
            "skipped_no_target": s["skipped"],
            "recall": round(s["found"] / s["cases"], 4) if s["cases"] else None,
            "precision": round(s["true_reports"] / s["reports"], 4) if s["reports"] else None,
        }
    facts_judged = controls["kept"] + controls["changed_reports"]
    result = {
        "articles": len(articles),
        "seed": seed,
        "per_distortion": per_kind,
        "control_paraphrases": {
            "articles": controls["articles"],
            "false_changed": controls["changed_reports"],
            "facts_compared": facts_judged,
            "false_changed_rate": round(controls["changed_reports"] / facts_judged, 4) if facts_judged else None,
        },
        "targets": {"recall": 0.95, "precision": 0.95, "false_changed_rate": 0.02},
        "notes": "precision counts one true report per case; other reports of that kind in the same "
        "article are counted as false (they may be paraphrase noise).",
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "facts.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
