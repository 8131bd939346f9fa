"""Content scoring: profanity (glin-profanity) and spam patterns, combined into one score.

Pure and synchronous: the send path calls it before the ack, so it must stay cheap (about
0.3 ms for a chat-sized message; long texts are scored off the event loop by the service).
Each signal is a probability-like weight and the score is their noisy-OR,
`1 - prod(1 - w)`: one strong signal or several weak ones raise it, none lowers it.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum

from glin_profanity import Filter


class Reason(StrEnum):
    PROFANITY = "PROFANITY"
    SPAM_PHRASES = "SPAM_PHRASES"
    SPAM_LINKS = "SPAM_LINKS"
    SPAM_REPETITION = "SPAM_REPETITION"
    SPAM_REPEATED_CHARACTERS = "SPAM_REPEATED_CHARACTERS"
    SPAM_SHOUTING = "SPAM_SHOUTING"


SPAM_PHRASES = (
    "buy now",
    "click here",
    "free money",
    "limited time offer",
    "act now",
    "100% free",
    "make money fast",
    "earn money fast",
    "work from home",
    "double your bitcoin",
    "crypto giveaway",
    "claim your prize",
    "you have won",
    "risk-free",
    "casino bonus",
    "viagra",
)
_SPAM_PHRASE = re.compile("|".join(re.escape(p) for p in SPAM_PHRASES), re.IGNORECASE)
_REPEATED_CHARACTER = re.compile(r"(\S)\1{11,}")
_WORD = re.compile(r"\w+")
_URL = re.compile(r"https?://\S*", re.IGNORECASE)

# Weights of each signal (see the module docstring for how they combine).
PROFANITY_BASE = 0.4
PROFANITY_PER_TERM = 0.15
PROFANITY_CAP = 0.95
SPAM_PHRASE_WEIGHT = 0.35
MANY_LINKS = 5
SOME_LINKS = 3
REPETITION_WEIGHT = 0.5
REPEATED_CHARACTERS_WEIGHT = 0.3
SHOUTING_WEIGHT = 0.3


@dataclass(frozen=True)
class Assessment:
    score: float
    reasons: list[str] = field(default_factory=list)
    terms: list[str] = field(default_factory=list)  # the words and phrases that matched


CLEAN = Assessment(score=0.0)

_filters = threading.local()


def _profanity_filter() -> Filter:
    """One filter per thread: the service may score long texts in a worker thread."""
    instance = getattr(_filters, "instance", None)
    if instance is None:
        instance = _filters.instance = Filter()
    return instance


def _profanity(text: str) -> tuple[float, list[str]]:
    result = _profanity_filter().check_profanity(text)
    if not result["contains_profanity"]:
        return 0.0, []
    matches = result.get("matches") or []
    # One obfuscated word can match twice ("f*ck" and "fuck") at the same place.
    hits = len({m["index"] for m in matches}) or 1
    words = sorted({str(m["word"]).lower() for m in matches} or set(result["profane_words"]))
    return min(PROFANITY_CAP, PROFANITY_BASE + PROFANITY_PER_TERM * hits), words


def _shouting(text: str) -> bool:
    letters = [ch for ch in text if ch.isalpha()]
    if len(letters) < 12:
        return False
    return sum(ch.isupper() for ch in letters) >= 0.8 * len(letters)


def _repetitive(text: str) -> bool:
    """One word making half of a longer text (links aside: those are SPAM_LINKS)."""
    words = [w.lower() for w in _WORD.findall(_URL.sub(" ", text)) if len(w) > 1]
    if len(words) < 8:
        return False
    return Counter(words).most_common(1)[0][1] >= 0.5 * len(words)


def assess(text: str) -> Assessment:
    """Score a message's text in [0, 1] with the reasons that raised it."""
    if not text.strip():
        return CLEAN
    signals: list[tuple[Reason, float]] = []
    terms: list[str] = []
    profanity, words = _profanity(text)
    if profanity:
        signals.append((Reason.PROFANITY, profanity))
        terms.extend(words)
    phrases = sorted({m.group(0).lower() for m in _SPAM_PHRASE.finditer(text)})
    if phrases:
        signals.append((Reason.SPAM_PHRASES, 1 - (1 - SPAM_PHRASE_WEIGHT) ** len(phrases)))
        terms.extend(phrases)
    links = len(_URL.findall(text))
    if links >= MANY_LINKS:
        signals.append((Reason.SPAM_LINKS, 0.5))
    elif links >= SOME_LINKS:
        signals.append((Reason.SPAM_LINKS, 0.25))
    if _repetitive(text):
        signals.append((Reason.SPAM_REPETITION, REPETITION_WEIGHT))
    if _REPEATED_CHARACTER.search(text):
        signals.append((Reason.SPAM_REPEATED_CHARACTERS, REPEATED_CHARACTERS_WEIGHT))
    if _shouting(text):
        signals.append((Reason.SPAM_SHOUTING, SHOUTING_WEIGHT))
    if not signals:
        return CLEAN
    remaining = 1.0
    for _, weight in signals:
        remaining *= 1 - weight
    return Assessment(
        score=round(1 - remaining, 3),
        reasons=[str(reason) for reason, _ in signals],
        terms=terms,
    )
