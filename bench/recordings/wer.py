"""Word error rate: how many words a transcript got wrong against what was said.

WER = (substitutions + deletions + insertions) / words said, from the least number of
such edits that turn the words said into the words heard (Levenshtein over words). Both
sides are normalised first, so that "Press 1," and "press one" are the same two words:
lower case, punctuation dropped (an apostrophe inside a word kept), hyphens and slashes
split words, and numbers written as words (up to 99 as said; longer runs digit by digit,
as a phone number or a card number is read).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

# fmt: off
_ONES = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
    "eighteen", "nineteen",
]
_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
# fmt: on
_SPLIT = re.compile("[-/_\u2013\u2014]+")  # hyphens, slashes, en and em dashes
_NOT_A_WORD_CHARACTER = re.compile(r"[^a-z0-9' ]+")


def number_words(digits: str) -> list[str]:
    """ "7" → ["seven"], "42" → ["forty", "two"], "1234" → ["one", "two", "three", "four"]."""
    if len(digits) > 2 or (len(digits) == 2 and digits[0] == "0"):
        return [_ONES[int(digit)] for digit in digits]
    value = int(digits)
    if value < 20:
        return [_ONES[value]]
    tens, ones = divmod(value, 10)
    return [_TENS[tens]] + ([_ONES[ones]] if ones else [])


def normalise(text: str) -> list[str]:
    """The words of `text`, compared as a person would: see the module."""
    words: list[str] = []
    for token in _SPLIT.sub(" ", text.lower()).split():
        token = _NOT_A_WORD_CHARACTER.sub("", token).strip("'")
        # "2" becomes "two"; "1st" and "pref1" (a word heard wrong) stay as they are.
        if token.isdigit():
            words.extend(number_words(token))
        elif token:
            words.append(token)
    return words


@dataclass(frozen=True)
class Alignment:
    """The least edits from the words said to the words heard, and what they were."""

    reference_words: int
    substitutions: int
    deletions: int
    insertions: int
    # Each edit as ("said", "heard"): "" heard for a deletion, "" said for an insertion.
    edits: list[tuple[str, str]] = field(default_factory=list)

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    @property
    def wer(self) -> float | None:
        """None when nothing was said (a rate of nothing is no rate)."""
        return self.errors / self.reference_words if self.reference_words else None


def align(reference: Sequence[str], hypothesis: Sequence[str]) -> Alignment:
    """Levenshtein over words, with the edits traced back (substitution, deletion and
    insertion each cost 1; on a tie a substitution is preferred, then a deletion)."""
    rows, columns = len(reference) + 1, len(hypothesis) + 1
    cost = [[0] * columns for _ in range(rows)]
    for i in range(rows):
        cost[i][0] = i
    for j in range(columns):
        cost[0][j] = j
    for i in range(1, rows):
        for j in range(1, columns):
            same = reference[i - 1] == hypothesis[j - 1]
            cost[i][j] = min(
                cost[i - 1][j - 1] + (0 if same else 1),
                cost[i - 1][j] + 1,
                cost[i][j - 1] + 1,
            )
    edits: list[tuple[str, str]] = []
    counts = {"s": 0, "d": 0, "i": 0}
    i, j = rows - 1, columns - 1
    while i or j:
        if i and j and cost[i][j] == cost[i - 1][j - 1] + (reference[i - 1] != hypothesis[j - 1]):
            if reference[i - 1] != hypothesis[j - 1]:
                counts["s"] += 1
                edits.append((reference[i - 1], hypothesis[j - 1]))
            i, j = i - 1, j - 1
        elif i and cost[i][j] == cost[i - 1][j] + 1:
            counts["d"] += 1
            edits.append((reference[i - 1], ""))
            i -= 1
        else:
            counts["i"] += 1
            edits.append(("", hypothesis[j - 1]))
            j -= 1
    edits.reverse()
    return Alignment(
        reference_words=len(reference),
        substitutions=counts["s"],
        deletions=counts["d"],
        insertions=counts["i"],
        edits=edits,
    )


def word_error_rate(said: str, heard: str) -> Alignment:
    """The alignment of `heard` against `said`, both normalised (see the module)."""
    return align(normalise(said), normalise(heard))
