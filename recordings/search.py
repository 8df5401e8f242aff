"""Words said: the recordings (and so the calls) whose transcripts contain them.

On PostgreSQL, full-text search with English stemming ("cancel" finds "cancelled" and
"cancelling") on `transcript_search`, the transcript's words that a trigger keeps, under a
GIN index (migrations 0005 and 0006): the search reads the index, and checking one row
costs no parsing of its transcript. What support types is read as a web search
(`websearch_to_tsquery`): words, "a phrase", `or`, `-not`; no input can make it fail.
Elsewhere (SQLite, a laptop) a plain case-insensitive match of the words as typed.
"""

from __future__ import annotations

from django.contrib.postgres.search import SearchQuery
from django.db import connections
from django.db.models import QuerySet

from recordings.models import Recording

# The trigger's text search configuration (migration 0005): the query must stem alike.
TRANSCRIPT_LANGUAGE = "english"


def recordings_saying(words: str, *, recordings: QuerySet[Recording] | None = None):
    """`recordings` (every one by default) narrowed to those whose transcript says `words`."""
    chosen = Recording.objects.all() if recordings is None else recordings
    words = words.strip()
    if connections[chosen.db].vendor == "postgresql":
        query = SearchQuery(words, config=TRANSCRIPT_LANGUAGE, search_type="websearch")
        return chosen.filter(transcript_search=query)
    return chosen.filter(transcript__icontains=words)


# Up to this many recordings saying the words, their calls are handed over as a list.
FEW = 5000


def calls_saying(words: str) -> list[int] | QuerySet:
    """The pks of the calls one of whose recordings says `words`, for `pk__in`.

    Few (a word said now and then): a list, read through the index at once; a call list
    of a million calls then walks its newest calls and checks each against the list,
    which costs nothing. Many (a common word): a one-column subquery, never a list of a
    million ids; the call list's newest calls find their matches within a few rows.
    Handed the subquery for a word said on, say, 0.2 % of calls, PostgreSQL's planner
    walked the calls checking each through the recordings' call index (a third of a
    second on a million calls); the list settles it in milliseconds.
    """
    matching = recordings_saying(words).order_by()  # any FEW + 1 tell few from many
    found = list(matching.values_list("call_id", flat=True)[: FEW + 1])
    if len(found) <= FEW:
        return sorted(set(found))
    return matching.values("call_id")
