"""HTTP Range requests for a recording's audio (RFC 9110 §14): what lets a player seek.

One `bytes=` range is served (a request for several gets the first: a server may); any
other Range header, or one that does not fit the file, is unsatisfiable (416).
"""

from __future__ import annotations

import re

_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


class Unsatisfiable(Exception):
    """The Range header asks for nothing this file has (answer 416)."""


def byte_range(header: str, total: int) -> tuple[int, int] | None:
    """(first, last) byte asked for, None for the whole file; Unsatisfiable otherwise."""
    if not header:
        return None
    match = _RANGE.fullmatch(header.split(",")[0].strip())
    if not match or not (match[1] or match[2]):
        raise Unsatisfiable(header)
    if not match[1]:  # bytes=-N: the last N bytes
        length = int(match[2])
        if length == 0 or total == 0:
            raise Unsatisfiable(header)
        return max(0, total - length), total - 1
    start = int(match[1])
    end = int(match[2]) if match[2] else total - 1
    if start >= total or end < start:
        raise Unsatisfiable(header)
    return start, min(end, total - 1)
