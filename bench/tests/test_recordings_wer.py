"""The word error rate the recordings benchmark prints: normalisation and alignment."""

from __future__ import annotations

import pytest

from bench.recordings.wer import align, normalise, number_words, word_error_rate


def _words(text: str) -> list[str]:
    return text.split()


@pytest.mark.parametrize(
    ("digits", "words"),
    [
        ("0", ["zero"]),
        ("7", ["seven"]),
        ("13", ["thirteen"]),
        ("20", ["twenty"]),
        ("42", ["forty", "two"]),
        ("07", ["zero", "seven"]),
        ("1234", ["one", "two", "three", "four"]),
    ],
)
def test_numbers_are_the_words_said_for_them(digits, words):
    assert number_words(digits) == words


def test_case_punctuation_and_digits_do_not_count_as_errors():
    said = "This call may be recorded. Press 1 to agree, 2 to continue without recording."
    heard = "this call may be recorded press one to agree two to continue without recording"

    alignment = word_error_rate(said, heard)

    assert alignment.errors == 0
    assert alignment.wer == 0
    assert alignment.reference_words == 14


def test_dashes_and_slashes_split_words_and_apostrophes_inside_words_stay():
    assert normalise("Call 555-0123 — we'll help/advise O'Brien's 'team'") == [
        "call", "five", "five", "five", "zero", "one", "two", "three", "we'll", "help",
        "advise", "o'brien's", "team",
    ]  # fmt: skip


def test_a_word_heard_with_a_digit_in_it_stays_one_wrong_word():
    assert normalise("Pref1 to agree") == ["pref1", "to", "agree"]


def test_substitutions_deletions_and_insertions_are_counted_and_listed():
    alignment = align(_words("the cat sat on the red mat"), _words("the dog on the red mat today"))

    assert (alignment.substitutions, alignment.deletions, alignment.insertions) == (1, 1, 1)
    assert alignment.wer == pytest.approx(3 / 7)
    # "cat sat" → "dog" is one substitution and one deletion, whichever word is dropped.
    assert len(alignment.edits) == 3
    assert alignment.edits[-1] == ("", "today")


def test_nothing_heard_is_every_word_deleted():
    alignment = word_error_rate("Thank you. How can we help?", "")

    assert alignment.deletions == 6
    assert alignment.wer == 1.0


def test_more_heard_than_said_can_pass_one_hundred_percent():
    alignment = word_error_rate("Goodbye.", "good bye then")

    assert alignment.errors == 3
    assert alignment.wer == 3.0


def test_nothing_said_has_no_rate():
    assert word_error_rate("", "").wer is None
    assert word_error_rate("...", "hello").insertions == 1


def test_the_least_number_of_edits_is_found_not_a_greedy_one():
    # Word by word from the left, every word would differ (6 errors); one insertion and
    # one deletion make them agree.
    alignment = align(_words("a b c d e f"), _words("x a b c d e"))

    assert alignment.errors == 2
    assert alignment.edits == [("", "x"), ("f", "")]
