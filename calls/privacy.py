"""Phone numbers as a reader may see them: in full for Support leads (permission
`calls.view_full_numbers`) and superusers, masked for everyone else (`+1•••••0100`).

One masking function, `mask_number`; the rest find numbers to give it. The console applies
them where it renders (pages, the timeline's HTML, its JSON export, the live poll): what is
stored never changes, so a search by a full number still finds its call, and operators'
commands print numbers in full. What reads as a number:

- a field that holds one (a call's `from_number`), whatever its shape;
- in free text, a `+` (or its URL-encoded `%2B`) and 6 to 15 digits (E.164), as MiniVoice
  sends them; a query string's `from=` and `to=`, which may come without a `+`; and the
  numbers the text is known to be about (a call's own, for a call's page);
- in JSON-ready data, every string as free text, and those under a phone key (`from`, `to`,
  `number`…) that look like a number;
- in a transcript, also a run of 7 or more digits, grouped as people say them
  (`555-0100`, `(415) 555 0100`): a caller saying their number aloud. Numbers said as words
  ("five five five") are left as the transcriber wrote them.

The bullets are always five, so the mask does not tell a number's length; at most the last
four digits show, never more than half of them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote

FULL_NUMBERS_PERMISSION = "calls.view_full_numbers"
MASK = "•••••"

# E.164 country codes by length: these one and two digit codes, every other one three.
_ONE_DIGIT_CODES = {"1", "7"}
_TWO_DIGIT_CODES = {
    "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45", "46",
    "47", "48", "49", "51", "52", "53", "54", "55", "56", "57", "58", "60", "61", "62", "63",
    "64", "65", "66", "81", "82", "84", "86", "90", "91", "92", "93", "94", "95", "98",
}  # fmt: skip
# A number written as MiniVoice writes it: + (or %2B in a URL) and the digits.
_PLUS_NUMBER = re.compile(r"(?:\+|%2[Bb])([0-9]{6,15})(?![0-9])")
# `from=…` / `to=…` in a query string or a form-encoded body.
_QUERY_NUMBER = re.compile(r"(?<![\w%])(from|to)=([^&\s\"'<>]*)")
# Said aloud and written down by the transcriber: 7 digits or more, maybe grouped.
_SAID_NUMBER = re.compile(r"\+?\(?[0-9](?:[ .()\-]{0,2}[0-9]){6,}")
# A number as people write one: what free text's masks may replace. Their replacements are
# made of `+`, digits, bullets and `from=`/`to=` only, so masking HTML that was escaped
# already cannot put markup into it (calls.console.views relies on this).
_NUMBER_SHAPE = re.compile(r"\+?[0-9 .()\-]+")
# Keys whose string values are phone numbers in MiniVoice's payloads and our exports.
PHONE_KEYS = frozenset(
    {"from", "to", "from_number", "to_number", "caller", "callee", "number", "numbers",
     "test_numbers", "phone", "phone_number"}
)  # fmt: skip
# Keys whose text is what a caller said.
SAID_KEYS = frozenset({"transcript", "transcript_segments"})
# A known number shorter than this is not looked for in text: it would hit any digits.
_MIN_KNOWN_DIGITS = 6


def mask_number(number: str) -> str:
    """One phone number, masked: `+15550100` → `+1•••••0100`.

    The `+` and the country code stay (where the number has a `+`), and the last four
    digits; a short number (an extension, a short code) shows at most half its digits.
    A SIP address keeps its host. A value with no digits (`anonymous`) has nothing to hide.
    """
    value = number.strip()
    if value[:4].lower() == "sip:":
        user, at, host = value[4:].partition("@")
        return f"{value[:4]}{mask_number(user) if _digits(user) else MASK}{at}{host}"
    digits = _digits(value)
    if not digits:
        return number
    if len(digits) < 7:
        return MASK + digits[len(digits) - min(4, len(digits) // 2) :]
    head = "+" + digits[: _country_code_length(digits)] if value.startswith("+") else ""
    return f"{head}{MASK}{digits[-4:]}"


def mask_text(text: str, *, known: Iterable[str] = ()) -> str:
    """Every number in free text masked (see the module's docstring); `known` are numbers
    the text is about, found whatever their shape."""
    text = _QUERY_NUMBER.sub(_masked_query_value, text)
    text = _PLUS_NUMBER.sub(lambda match: mask_number("+" + match[1]), text)
    for number in _known(known):
        pattern = rf"(?<![0-9A-Za-z]){re.escape(number)}(?![0-9A-Za-z])"
        text = re.sub(pattern, mask_number(number), text)
    return text


def mask_said(text: str, *, known: Iterable[str] = ()) -> str:
    """A transcript: digits said aloud too, then everything free text masks."""
    return mask_text(_SAID_NUMBER.sub(lambda match: mask_number(match[0]), text), known=known)


def mask_data(value: object, *, known: Iterable[str] = (), said: bool = False) -> object:
    """JSON-ready data (dicts, lists, strings…) with every number masked; a copy."""
    known = tuple(known)
    if isinstance(value, str):
        return mask_said(value, known=known) if said else mask_text(value, known=known)
    if isinstance(value, dict):
        return {key: _masked_item(key, item, known, said) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [mask_data(item, known=known, said=said) for item in value]
    return value


def sees_full_numbers(user) -> bool:
    """Support leads (and superusers, who have every permission) see numbers in full."""
    return bool(user is not None and user.has_perm(FULL_NUMBERS_PERMISSION))


@dataclass(frozen=True)
class Shown:
    """Numbers as one reader sees them: each method returns its input unchanged for a
    reader who sees them in full, masked for anyone else."""

    full: bool
    known: tuple[str, ...] = ()

    def number(self, number: str) -> str:
        return number if self.full or not number else mask_number(number)

    def text(self, text: str) -> str:
        return text if self.full or not text else mask_text(text, known=self.known)

    def said(self, text: str) -> str:
        return text if self.full or not text else mask_said(text, known=self.known)

    def data(self, value: object) -> object:
        return value if self.full else mask_data(value, known=self.known)


def shown_to(user, *, known: Iterable[str] = ()) -> Shown:
    return Shown(full=sees_full_numbers(user), known=tuple(known))


# -- Helpers --------------------------------------------------------------------------


def _digits(text: str) -> str:
    return "".join(character for character in text if "0" <= character <= "9")


def _country_code_length(digits: str) -> int:
    if digits[:1] in _ONE_DIGIT_CODES:
        return 1
    return 2 if digits[:2] in _TWO_DIGIT_CODES else 3


def _known(numbers: Iterable[str]) -> list[str]:
    """The known numbers worth looking for, longest first (so that a number inside
    another is not masked first): those written as numbers only (a SIP address is masked
    where it is a field or a phone key's value, and its +number wherever it is)."""
    wanted = {
        number.strip()
        for number in numbers
        if len(_digits(number)) >= _MIN_KNOWN_DIGITS and _NUMBER_SHAPE.fullmatch(number.strip())
    }
    return sorted(wanted, key=len, reverse=True)


def _masked_query_value(match: re.Match) -> str:
    value = unquote(match[2])
    if len(_digits(value)) < 7 or not _NUMBER_SHAPE.fullmatch(value):
        return match[0]
    return f"{match[1]}={mask_number(value)}"


def _masked_item(key: object, item: object, known: tuple[str, ...], said: bool) -> object:
    if key in SAID_KEYS:
        return mask_data(item, known=known, said=True)
    if key in PHONE_KEYS:
        if isinstance(item, str) and _reads_as_number(item):
            return mask_number(item)
        if isinstance(item, list):
            return [_masked_item(key, one, known, said) for one in item]
    return mask_data(item, known=known, said=said)


def _reads_as_number(text: str) -> bool:
    """Digits (7 or more) and what people write between them, or a SIP address."""
    value = text.strip()
    if value[:4].lower() == "sip:":
        return True
    return len(_digits(value)) >= 7 and _NUMBER_SHAPE.fullmatch(value) is not None
