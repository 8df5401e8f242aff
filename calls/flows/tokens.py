"""Step tokens: how a collect's or redirect's url says which step of which flow comes next.

The token is signed with the app's own key (Django's signing, timestamped, under a salt
of its own), so it is the one thing the app reads from a URL (CONTRACT.md §1, "Step URLs").
It binds the call id, the flow, its version (0: the draft) and the step that handed the
call back; a token that is tampered with, expired or minted for another call is refused
with the reason, and the call gets the safe fallback.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from django.core import signing

from calls.protocol import contract

SALT = "calls.flows.step-token"
DRAFT = 0  # the version number a token gives a flow's draft


@dataclass(frozen=True)
class StepToken:
    call_id: str
    flow_id: int
    version: int  # DRAFT for the draft
    step: str


class BadToken(ValueError):
    """Why a step token is refused, in words for the exchange's error."""


def step_url(answer_url: str, token: StepToken) -> str:
    """The answer_url with a signed token for `token`: where MiniVoice comes back."""
    signed = signing.dumps(
        [token.call_id, token.flow_id, token.version, token.step], salt=SALT, compress=False
    )
    return f"{answer_url}?{urlencode({contract.STEP_TOKEN_PARAM: signed})}"


def read_token(signed: str, *, call_id: str) -> StepToken:
    """The token's content, if it is ours, fresh and for this call; else BadToken."""
    try:
        values = signing.loads(
            signed, salt=SALT, max_age=contract.STEP_TOKEN_MAX_AGE.total_seconds()
        )
    except signing.SignatureExpired:
        raise BadToken(
            f"step token expired (older than {contract.STEP_TOKEN_MAX_AGE}): the fallback "
            "instead of a step"
        ) from None
    except signing.BadSignature:
        raise BadToken("step token is not ours (tampered with or malformed)") from None
    if not _is_token_shape(values):
        # Signed with our key but not as step_url writes it (another version's shape):
        # read as written or not at all. Coercing would take 1.5 as flow 1, and raise
        # OverflowError on the Infinity that JSON lets through.
        raise BadToken("step token has an unknown shape")
    token = StepToken(*values)
    if token.call_id != call_id:
        raise BadToken(
            f"step token was made for call {token.call_id!r}, not {call_id!r}: a request "
            "replayed to another call's URL changes nothing"
        )
    return token


def _is_token_shape(values: object) -> bool:
    """[call id, flow id, version, step]: text, two whole numbers, text (as step_url
    writes them: JSON keeps each type)."""
    if not isinstance(values, list) or len(values) != 4:
        return False
    token_call, flow_id, version, step = values
    numbers_ok = all(
        isinstance(number, int) and not isinstance(number, bool) for number in (flow_id, version)
    )
    return isinstance(token_call, str) and isinstance(step, str) and numbers_ok
