"""Content scoring: each signal, how signals combine, and texts that must stay clean."""

from __future__ import annotations

import pytest

from parley.screening.scoring import assess


@pytest.mark.parametrize(
    "text",
    [
        "lovely weather today",
        "Scunthorpe analysis of the cocktail class",  # words that contain profane ones
        "Meet at 10:00, bring the slides",
        "  ",
    ],
)
def test_ordinary_text_scores_zero(text: str) -> None:
    assessment = assess(text)
    assert (assessment.score, assessment.reasons, assessment.terms) == (0.0, [], [])


def test_profanity_weighs_by_the_number_of_hits() -> None:
    one, two, three = (assess(t) for t in ("shit", "shit and fuck", "shit, fuck, shit"))
    assert (one.score, two.score, three.score) == (0.55, 0.7, 0.85)
    assert three.reasons == ["PROFANITY"]
    assert three.terms == ["fuck", "shit"]


def test_obfuscated_profanity_is_found_once_per_place() -> None:
    for text in ("f*ck", "sh1t", "fuuuuuck", "f u c k"):
        assert assess(text).score == 0.55, text


@pytest.mark.parametrize(
    ("text", "reason", "score"),
    [
        ("Click here now", "SPAM_PHRASES", 0.35),
        ("http://a.example http://b.example http://c.example", "SPAM_LINKS", 0.25),
        (" ".join(f"https://{n}.example" for n in range(5)), "SPAM_LINKS", 0.5),
        ("buy buy buy buy buy buy buy buy cheap", "SPAM_REPETITION", 0.5),
        ("wow!!!!!!!!!!!!", "SPAM_REPEATED_CHARACTERS", 0.3),
        ("WHY IS NOBODY ANSWERING ME", "SPAM_SHOUTING", 0.3),
    ],
)
def test_each_spam_signal(text: str, reason: str, score: float) -> None:
    assessment = assess(text)
    assert assessment.reasons == [reason]
    assert assessment.score == score


def test_signals_combine_as_a_noisy_or() -> None:
    # 1 - (1 - 0.55) * (1 - 0.3): profanity, shouted.
    assert assess("WHAT THE FUCK IS GOING ON HERE").score == 0.685
    # Three spam phrases: 1 - 0.65 ** 3.
    phrases = assess("Buy now, click here, free money")
    assert phrases.score == 0.725
    assert phrases.terms == ["buy now", "click here", "free money"]


def test_short_runs_and_short_capitals_are_not_spam() -> None:
    assert assess("OK!!! LOL").score == 0.0
    assert assess("yesssss").score == 0.0
