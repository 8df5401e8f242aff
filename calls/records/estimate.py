"""How long the actions of one answer take to run, roughly: what tells a call that ended
early from one that ran its course. Our reading, not MiniVoice's: kept in one place."""

from __future__ import annotations

from calls.records import action_names, action_params

# Text-to-speech speaks about 150 words a minute; counting on a brisk 180 keeps a call
# that hung up right at the end of a prompt from being called early.
WORDS_PER_SECOND = 3.0
# A played file's length is unknown until it plays; a second is the least it takes.
PLAY_SECONDS = 1.0
# MiniVoice sends the call back to us after these: without a later request, they never ran.
HANDS_BACK = frozenset({"redirect", "collect"})


def run_seconds(actions: list[dict]) -> float:
    """The least time the actions take before the last one runs."""
    total = 0.0
    for action, name in zip(actions, action_names(actions), strict=True):
        params = action_params(action)
        if name == "say":
            text = params.get("text") if isinstance(params.get("text"), str) else ""
            total += len(text.split()) / WORDS_PER_SECOND
        elif name == "play":
            total += PLAY_SECONDS
        elif name == "pause":
            seconds = params.get("seconds")
            total += (
                seconds if isinstance(seconds, int | float) and not isinstance(seconds, bool) else 1
            )
        elif name in ("hangup", "redirect", "transfer"):
            break  # nothing after these runs
    return total
