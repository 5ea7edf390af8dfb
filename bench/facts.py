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
(right status and kind, overlapping the distorted place). Precision is reported two ways:

- ``precision`` (strict): one true report per case; every other report of that kind in the same
  article counts as false, even when it is right. Right for number, entity, hedge and quote, where
  a case changes one fact.
- ``precision_region``: every report that lies inside the distorted region counts as true. Needed for
  ``insert`` and ``delete``: an inserted sentence carries a new number *and* a new name (both must
  be reported, so strict precision cannot exceed 0.5), a deleted sentence often holds a number and
  a year. Reports outside the region still count as false.

How the cases are made, so that they measure the fact diff and nothing else:

- texts are normalised the way ``retold`` normalises its input (offsets must refer to the text the
  diff sees: Reuters bodies start with indentation that normalisation strips);
- every article draws from its own seeded generator, so a change to the extractor (which picks
  the distortion targets) does not reshuffle the other articles;
- the paraphrase never edits inside a quotation (found independently of retold, generously: BBC
  quotations often run on without a closing mark) and swaps only two whole sentences (not the
  fragments of hard-wrapped Reuters lines, nor pieces cut at "U.S."): otherwise the "fact-preserving"
  paraphrase itself altered quotes and split numbers from their hedges;
- an entity is only swapped on a line of four words or more (not the "Reuter" sign-off) and never
  for its own long form ("EU" -> "European Union"); a hedge before a day of a month is a date;
- hedged numbers and quotations are rare, so ``hedge_extra`` and ``quote_extra`` further articles
  (not in the main sample) chosen because they carry one get that distortion.

Writes ``bench/results/facts.json``. Run: ``.venv/bin/python -m bench.run facts``; the speed of
``extract_facts`` + ``diff_facts`` on the PAN sample: ``.venv/bin/python -m bench.facts speed``.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from retold.ingest.text import normalise

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
# a hedge word before a number that is not a year or a day of a month ("more than 20", "about $5")
_HEDGE_TARGET = re.compile(
    r"\b(" + "|".join(re.escape(h) for h in HEDGE_SWAPS) + r")\s+(?=[$£€]?\d)(?!(?:19|20)\d\d\b)"
    r"(?!\d{1,2}(?:st|nd|rd|th)?\s+(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec))",  # a date, not a count
    re.IGNORECASE,
)
# a quotation, probably of six words or more
_QUOTE_TARGET = re.compile(r"[\"\u201c][^\"\u201c\u201d\n]{30,400}[\"\u201d]")
# a sentence holding a number (as far as a full stop without a number after it tells)
_DELETABLE = re.compile(r"[^.\n]*\b\d[\d,.]*\b[^.\n]*\.")
NEW_NAMES = ("Marta Ekdahl", "Tobias Renner", "Ines Castellano", "Oskar Lindqvist", "Priya Natarajan")


@dataclass
class Case:
    kind: str
    original: str
    rewrite: str
    start: int = -1  # distorted region in the rewrite (or, for delete, in the original)
    end: int = -1
    value: str = ""
    region: tuple[int, int] | None = None  # for delete: the deleted sentence in the original


def _outlet_bodies(rng: random.Random) -> list[list[str]]:
    """Article bodies of 1,200-5,000 characters, per outlet, in a seeded order."""
    outlets = []
    for name in ("bbc-2004-2005.jsonl", "reuters-21578.jsonl"):
        with (NEWS / name).open(encoding="utf-8") as handle:
            records = [json.loads(line) for line in handle]
        bodies = [normalise(r["text"]) for r in records if r.get("text") and 1200 <= len(r["text"]) <= 5000]
        rng.shuffle(bodies)
        outlets.append(bodies)
    return outlets


def load_articles(count: int, rng: random.Random) -> list[str]:
    return [text for bodies in _outlet_bodies(rng) for text in bodies[: count // 2]]


def extra_articles(count: int, extra: int, target: re.Pattern[str], rng: random.Random) -> list[str]:
    """Further articles (none among the first ``count``) in which ``target`` occurs, half per outlet:
    kinds whose targets are rare in news (hedged numbers, quotations) get a sample of their own."""
    out: list[str] = []
    for bodies in _outlet_bodies(rng):
        out.extend([t for t in bodies[count // 2 :] if target.search(t)][: extra // 2])
    return out


_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
# a "sentence" ending like this was cut after an abbreviation or an initial ("the U.S. | House")
_ABBREVIATION_END = re.compile(
    r"(?:\b[A-Z]|\b(?:Mr|Mrs|Ms|Dr|St|Co|Corp|Inc|Ltd|Jr|Sr|No|Gen|Gov|Sen|Rep|Lt|Col|Sgt|Capt|Prof"
    r"|Jan|Feb|Mar|Apr|Aug|Sept|Sep|Oct|Nov|Dec|vs|U\.S|U\.K|U\.N))\.$"
)
_WHOLE_END = re.compile(r"[.!?]$")


def _quoted_mask(text: str) -> bytearray:
    """1 for every character that is, or may be, inside a quotation.

    Independent of the extractor and deliberately generous: a straight mark after a space opens, one
    after a letter or punctuation closes; an opening mark while a quotation is open continues it
    (news style re-opens a quotation at each paragraph it runs on into); a quotation never closed
    runs to the end of its block (a blank line, or a line that starts indented).
    """
    mask = bytearray(len(text))
    open_at: int | None = None
    block_start = 0
    for m in re.finditer(r"[\"\u201c\u201d]|\n(?=[ \t\n])", text):
        at, mark = m.start(), m.group()
        if mark == "\n":
            if open_at is not None:
                mask[open_at:at] = b"\x01" * (at - open_at)
                open_at = None
            block_start = at + 1
            continue
        before = text[at - 1] if at else " "
        opens = mark == "\u201c" or (mark == '"' and (before.isspace() or before in "([{-\u2014"))
        if opens:
            if open_at is None:
                open_at = at
        elif open_at is not None:
            mask[open_at : at + 1] = b"\x01" * (at + 1 - open_at)
            open_at = None
        else:  # a closing mark with no opening one: the quotation began earlier in the block
            mask[block_start : at + 1] = b"\x01" * (at + 1 - block_start)
    if open_at is not None:
        mask[open_at:] = b"\x01" * (len(text) - open_at)
    return mask


def paraphrase(text: str, rng: random.Random) -> str:
    """Fact-preserving edits: common-word synonyms outside quotations, and swaps of two adjacent
    whole sentences inside a paragraph line, neither quoted.

    A swap needs two whole sentences: the first must start the line's paragraph or follow a sentence
    end, neither may end in an abbreviation ("the U.S. | House Banking"), and the second must end
    with a full stop, "!" or "?" (hard-wrapped lines, as in Reuters, end in mid-sentence).
    """
    mask = _quoted_mask(text)
    out_lines = []
    line_start = 0
    previous = ""
    for line in text.split("\n"):
        pieces = []  # (start offset in text, sentence)
        cursor = 0
        for brk in _SENTENCE_BREAK.finditer(line):
            pieces.append((line_start + cursor, line[cursor : brk.start()]))
            cursor = brk.end()
        pieces.append((line_start + cursor, line[cursor:]))
        if len(pieces) >= 2 and rng.random() < 0.3:
            i = rng.randrange(len(pieces) - 1)
            (a_at, a), (b_at, b) = pieces[i], pieces[i + 1]
            starts_sentence = i > 0 or not previous.strip() or bool(_WHOLE_END.search(previous.rstrip("\"\u201d' ")))
            whole = (
                starts_sentence
                and not _ABBREVIATION_END.search(a)
                and not _ABBREVIATION_END.search(b)
                and bool(_WHOLE_END.search(b))
                and len(a.split()) >= 3
                and len(b.split()) >= 3
                and not any(mask[a_at : b_at + len(b)])
            )
            if whole:
                pieces[i], pieces[i + 1] = pieces[i + 1], pieces[i]
        sentences = []
        for at, sentence in pieces:
            sentences.append(
                re.sub(
                    r"\b(" + "|".join(SYNONYMS) + r")\b",
                    lambda m, at=at: SYNONYMS[m.group(1)]
                    if not mask[at + m.start()] and rng.random() < 0.5
                    else m.group(1),
                    sentence,
                )
            )
        out_lines.append(" ".join(sentences))
        previous = line
        line_start += len(line) + 1
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
        entities = [
            f for f in facts
            if f.kind in ("person", "org", "place") and len(names.get(f.kind, [])) > 5 and _in_sentence(rewrite, f.span.start)
        ]
        if not entities:
            return None
        fact = rng.choice(entities)
        short = fact.text.replace(".", "")
        choices = [
            n for n in names[fact.kind]
            if n not in original and n.split()[-1] not in original
            and "".join(w[0] for w in n.split() if w[0].isupper()) != short  # "EU" -> "European Union" is no swap
        ]
        if not choices:
            return None
        new = rng.choice(choices)
        return Case(kind, original, rewrite[: fact.span.start] + new + rewrite[fact.span.end :],
                    fact.span.start, fact.span.start + len(new), new)
    if kind == "hedge":
        matches = list(_HEDGE_TARGET.finditer(rewrite))
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
        sentences = list(_DELETABLE.finditer(rewrite))
        if not sentences:
            return None
        match = rng.choice(sentences)
        numbers = re.findall(r"\d[\d,.]*\d|\d", match.group())
        value = numbers[0]
        if rewrite.count(value) > 1:
            return None
        at = original.find(value)
        region = next(((m.start(), m.end()) for m in _DELETABLE.finditer(original) if m.start() <= at < m.end()), None)
        return Case(kind, original, rewrite[: match.start()] + rewrite[match.end() :], at, at + len(value), value, region)
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


def _in_sentence(text: str, at: int) -> bool:
    """Is ``at`` on a line of four words or more (not a one-word sign-off such as "Reuter")?"""
    start, end = text.rfind("\n", 0, at) + 1, text.find("\n", at)
    return len(text[start : end if end >= 0 else len(text)].split()) >= 4


def _digits(text: str) -> str:
    match = re.search(r"\d[\d,]*(?:\.\d+)?", text)
    return match.group().rstrip(",") if match else ""


def _overlaps(span: Any, start: int, end: int) -> bool:
    return span is not None and span.start < end and start < span.end


def found(case: Case, facts: list[Any]) -> tuple[bool, int, int]:
    """Was the distortion reported; how many reports of this kind are there in all; and how many of
    them lie in the distorted region (the changed words, the inserted sentence or, for ``delete``,
    the deleted sentence of the original)?"""
    if case.kind in ("number", "entity", "hedge", "quote"):
        change_names = {
            "number": ("value",), "entity": ("entity",), "hedge": ("hedge",),
            "quote": ("quote-altered", "quote-not-found"),
        }[case.kind]
        reports = [f for f in facts if f.status == "changed" and f.change in change_names]
        if case.kind == "entity":
            reports += [f for f in facts if f.status == "added" and f.kind in ("person", "org", "place", "name")]
        inside = [f for f in reports if f.derivative is not None and _overlaps(f.derivative.span, case.start, case.end)]
        return bool(inside), len(reports), len(inside)
    if case.kind == "delete":
        reports = [f for f in facts if f.status == "dropped" and f.kind in ("number", "date", "identifier")]
        hit = any(f.source is not None and _overlaps(f.source.span, case.start, case.end) for f in reports)
        start, end = case.region or (case.start, case.end)
        inside = [f for f in reports if f.source is not None and _overlaps(f.source.span, start, end)]
        return hit, len(reports), len(inside)
    reports = [f for f in facts if f.status == "added"]
    number, name = case.value.split("|")
    hit_number = any(f.derivative is not None and number in f.derivative.text for f in reports)
    hit_name = any(f.derivative is not None and name.split()[-1] in f.derivative.text for f in reports)
    inside = [f for f in reports if f.derivative is not None and _overlaps(f.derivative.span, case.start, case.end)]
    return hit_number and hit_name, len(reports), len(inside)


def corpus_names(articles: list[str]) -> dict[str, list[str]]:
    """Multi-word person, organisation and place names of the first 120 articles (entity swaps)."""
    names: dict[str, list[str]] = defaultdict(list)
    for text in articles[:120]:
        for fact in _facts(text):
            if fact.kind in ("person", "org", "place") and len(fact.text.split()) >= 2:
                names[fact.kind].append(fact.text)
    return {k: sorted(set(v)) for k, v in names.items()}


def cases(count: int = 420, seed: int = 2026, hedge_extra: int = 120, quote_extra: int = 120) -> Iterator[tuple[str, Case | None]]:
    """The benchmark's cases in order: ``(kind, case)``; ``("control", Case)`` for a paraphrase-only
    article (``case.rewrite`` is the paraphrase) and ``(kind, None)`` for a skipped target.

    Every article draws from its own generator (seeded by ``seed`` and its position), so a change
    to the extractor, which picks the distortion targets, does not reshuffle the other articles.
    """
    rng = random.Random(seed)
    articles = load_articles(count, rng)
    extra = {
        "hedge": extra_articles(count, hedge_extra, _HEDGE_TARGET, random.Random(seed)),
        "quote": extra_articles(count, quote_extra, _QUOTE_TARGET, random.Random(seed)),
    }
    names = corpus_names(articles)
    for i, original in enumerate(articles):
        article_rng = random.Random(f"{seed}:{i}")
        rewrite = paraphrase(original, article_rng)
        kind = KINDS[i % (len(KINDS) + 1)] if i % (len(KINDS) + 1) < len(KINDS) else "control"
        if kind == "control":
            yield "control", Case("control", original, rewrite)
            continue
        case = None
        for _ in range(len(KINDS)):  # an article without a target for this kind tries the next
            case = distort(kind, original, rewrite, article_rng, names)
            if case is not None:
                break
            yield kind, None
            kind = KINDS[(KINDS.index(kind) + 1) % len(KINDS)]
        if case is not None:
            yield kind, case
    for kind, originals in extra.items():  # articles chosen because they carry a target of this kind
        for i, original in enumerate(originals):
            article_rng = random.Random(f"{seed}:{kind}:{i}")
            rewrite = paraphrase(original, article_rng)
            yield kind, distort(kind, original, rewrite, article_rng, names)


def run(count: int = 420, seed: int = 2026, hedge_extra: int = 120, quote_extra: int = 120) -> dict[str, Any]:
    import retold

    stats: dict[str, Counter[str]] = defaultdict(Counter)
    controls: Counter[str] = Counter()
    for kind, case in cases(count, seed, hedge_extra, quote_extra):
        if case is None:
            stats[kind]["skipped"] += 1
            continue
        if kind == "control":
            result = retold.compare(case.rewrite, case.original)
            controls["articles"] += 1
            controls["changed_reports"] += sum(1 for f in result.facts if f.status == "changed")
            controls["kept"] += sum(1 for f in result.facts if f.status == "kept")
            continue
        result = retold.compare(case.rewrite, case.original)
        hit, reports, inside = found(case, list(result.facts))
        stats[kind]["cases"] += 1
        stats[kind]["found"] += int(hit)
        stats[kind]["reports"] += reports
        stats[kind]["true_reports"] += int(hit)
        stats[kind]["region_reports"] += inside
    per_kind = {}
    for kind in KINDS:
        s = stats[kind]
        per_kind[kind] = {
            "cases": s["cases"],
            "skipped_no_target": s["skipped"],
            "recall": round(s["found"] / s["cases"], 4) if s["cases"] else None,
            "precision": round(s["true_reports"] / s["reports"], 4) if s["reports"] else None,
            "precision_region": round(s["region_reports"] / s["reports"], 4) if s["reports"] else None,
            "reports": s["reports"],
        }
    facts_judged = controls["kept"] + controls["changed_reports"]
    result = {
        "articles": count,
        "extra_articles": {"hedge": hedge_extra, "quote": quote_extra},
        "seed": seed,
        "per_distortion": per_kind,
        "control_paraphrases": {
            "articles": controls["articles"],
            "false_changed": controls["changed_reports"],
            "facts_compared": facts_judged,
            "false_changed_rate": round(controls["changed_reports"] / facts_judged, 4) if facts_judged else None,
        },
        "targets": {"recall": 0.95, "precision": 0.95, "false_changed_rate": 0.02},
        "notes": "precision: one true report per case, every other report of that kind in the article "
        "counts false (strict). precision_region: every report inside the distorted region counts true "
        "(an inserted or deleted sentence legitimately carries several facts). Cases: per-article seeded "
        "generators; texts normalised as retold normalises them; paraphrases never touch quotations and "
        "swap only whole sentences; extra articles chosen for carrying hedged numbers and quotations.",
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "facts.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result


def pan_speed(count: int = 200, seed: int = 0, repeats: int = 3) -> dict[str, Any]:
    """ms per pair for ``extract_facts`` (both sides) and ``diff_facts`` (which extracts again) on
    the PAN sample of ``bench/compare.py`` (same pairs, same seed). ``compare`` runs once per pair,
    untimed, for the segmentation and the alignment; the best of ``repeats`` runs counts (the
    machine is shared). Not part of ``run()``: it takes a few minutes. Prints; writes nothing.
    """
    import statistics
    import time

    import retold
    from retold.eval.pan import read_text
    from retold.facts import diff_facts, extract_facts

    corpus = ROOT.parent / "shared" / "data" / "pan13-train"
    pairs = [line.split() for line in (corpus / "pairs").read_text().splitlines() if line.strip()]
    extract_ms, diff_ms = [], []
    for suspicious, source in random.Random(seed).sample(pairs, count):
        try:
            result = retold.compare(read_text(corpus / "susp" / suspicious), read_text(corpus / "src" / source))
        except retold.InputError:
            continue
        d, s = result.derivative.text, result.source.text
        d_seg, s_seg, links = result.derivative_segments, result.source_segments, result.links
        times_extract, times_diff = [], []
        for _ in range(repeats):
            started = time.perf_counter()
            extract_facts(d)
            extract_facts(s)
            times_extract.append(time.perf_counter() - started)
            started = time.perf_counter()
            diff_facts(d, s, d_seg, s_seg, links)
            times_diff.append(time.perf_counter() - started)
        extract_ms.append(min(times_extract) * 1000)
        diff_ms.append(min(times_diff) * 1000)
    return {
        "pairs": len(diff_ms),
        "extract_ms_per_pair": {"mean": round(statistics.mean(extract_ms), 1), "median": round(statistics.median(extract_ms), 1)},
        "extract_and_diff_ms_per_pair": {
            "mean": round(statistics.mean(diff_ms), 1),
            "median": round(statistics.median(diff_ms), 1),
            "max": round(max(diff_ms), 1),
        },
    }


if __name__ == "__main__":
    import sys

    print(json.dumps(pan_speed() if sys.argv[1:] == ["speed"] else run(), indent=2))
