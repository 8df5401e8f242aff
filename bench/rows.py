"""Rows shaped like the app's own, as COPY text lines: calls, their problems and webhook
deliveries.

Shared by bench-scale (the admin at a million calls) and bench-partitioning (the events
table, plain against partitioned by month), so both measure the same ~390-byte bodies.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bench.signing import EVENT_CYCLE

CALL_COLUMNS = (
    "minivoice_id", "direction", "from_number", "to_number", "status", "final_status",
    "started_at", "answered_at", "ended_at", "duration_seconds", "last_step", "last_step_at",
    "flow", "flow_step", "flow_position", "ended_from_api", "created_at", "updated_at",
)  # fmt: skip
EVENT_COLUMNS = (
    "webhook_id", "event_type", "call_minivoice_id", "occurred_at", "received_at",
    "deliveries", "headers", "raw_body", "payload", "state", "queued_at", "attempts",
    "processed_at", "error",
)  # fmt: skip
PROBLEM_COLUMNS = ("call_id", "code", "severity", "message", "detected_at", "notified_at")
RECORDING_COLUMNS = (
    "minivoice_id", "call_id", "status", "started_at", "completed_at", "failed_at",
    "duration_seconds", "url", "format", "size_bytes", "failure_reason", "status_from_api",
    "created_at", "updated_at", "audio_state", "audio_key", "audio_sha256", "audio_error",
    "audio_tries", "transcript_state", "transcript", "transcript_segments", "transcript_error",
)  # fmt: skip
# Every other ended call recorded (the consent IVR's "record" step, roughly); of those,
# one in 40 failed and one in 60 never completed: the dashboard's outcomes to count.
RECORDED_EVERY = 2
RECORDING_FAILED_EVERY = 40
RECORDING_STARTED_EVERY = 60
# Most calls are over; a few are live (the admin's status filter has something to find).
STATUS_EVERY = {"in_progress": 50, "ringing": 97}

# One call in 30 has a problem (3.3 %), one in 150 two: the admin's problem filters have
# a realistic share to find. The codes are CallProblem.Code's (a test holds them to it).
PROBLEM_EVERY = 30
SECOND_PROBLEM_EVERY = 4
# A live call that old is stuck; an ended one had one of these, the commonest most often.
# Thirteen entries: prime to 5 (every 5th call with a problem is live, so skipped here) and
# to SECOND_PROBLEM_EVERY, so every code comes round; no two neighbours alike, as a call's
# second code is the next one.
STUCK = "call_stuck"
ENDED_PROBLEMS = (
    "ended_early", "recording_not_completed", "ended_early", "recording_failed",
    "no_answer_url", "ended_early", "answer_url_failed", "recording_before_consent",
    "recording_not_completed", "recording_not_started", "ended_early", "processing_failed",
    "recording_after_consent_declined",
)  # fmt: skip
PROBLEM_WORDS = {
    "recording_not_started": ("error", "We asked MiniVoice to start recording at +2.1 s, "
                              "and neither recording.started nor recording.failed came."),
    "recording_not_completed": ("error", "Recording rec_x started at +3.0 s, but neither "
                                "recording.completed nor recording.failed came."),
    "recording_failed": ("error", "The recording failed (rec_x at +9.0 s: storage unavailable)."),
    "answer_url_failed": ("error", "MiniVoice could not use our answer at +0.4 s (timeout)."),
    "call_stuck": ("warning", "The call is still marked in progress more than 4 hours "
                   "after it began: MiniVoice's call.completed never came, or was lost."),
    "no_answer_url": ("warning", "MiniVoice reported the call answered at +1.0 s, but never "
                      "asked our answer_url."),
    "ended_early": ("warning", "The call ended at +12 s before its last action (say) could "
                    "run (the caller hung up during the prompts?)."),
    "processing_failed": ("error", "1 event(s) of this call failed processing "
                          "(call.completed); they are retried automatically."),
    "recording_before_consent": ("error", "MiniVoice started recording at +3.0 s, but the "
                                 "caller consented only at +6.2 s."),
    "recording_after_consent_declined": ("error", "The caller declined recording at +6.2 s, "
                                         "yet MiniVoice started recording at +9.0 s."),
}  # fmt: skip


# The flow's step a call last reached: one call in ten on the default flow, the rest
# through the consent IVR, most consenting or declining, a few silent twice (goodbye, the
# rare step the list's step filter is timed on); live calls are still at the greeting.
FLOW = "Main line"
RARE_STEP = "goodbye"
FLOW_STEPS = (
    ("default", "start", ""), (FLOW, "record", "1"), (FLOW, "no_recording", "2"),
    (FLOW, "record", "1"), (FLOW, "no_recording", "2"), (FLOW, "record", "1"),
    (FLOW, "greeting_again", "7"), (FLOW, "record", "1"), (FLOW, "no_recording", "2"),
    (FLOW, "record", "1"), ("default", "start", ""), (FLOW, "no_recording", "2"),
    (FLOW, "record", "1"), (FLOW, "no_recording", "2"), (FLOW, "record", "1"),
    (FLOW, "no_recording", "2"), (FLOW, "record", "1"), (FLOW, "no_recording", "2"),
    (FLOW, "record", "1"), (FLOW, RARE_STEP, None),
)  # fmt: skip


def call_flow_step(n: int) -> tuple[str, str, str]:
    """(flow, step, position in words) of call n, as the answer_url leaves them."""
    flow, step, pressed = FLOW_STEPS[n % len(FLOW_STEPS)]
    if call_status(n) != "ended" and flow == FLOW:
        step, pressed = "greeting", ""
    version = "v3" if flow == FLOW else "v1"
    keys = f" (pressed {pressed})" if pressed else ""
    return flow, step, f"{flow} {version}, step {step!r}{keys}"


def newest_call_at(flow: str, step: str | None = None, *, calls: int) -> int | None:
    """The number of the newest call (lowest n) whose last answer was that flow (and step)."""
    return next(
        (
            n
            for n in range(calls)
            if call_flow_step(n)[0] == flow and step in (None, call_flow_step(n)[1])
        ),
        None,
    )


def call_id(n: int) -> str:
    return f"call_s{n:09d}"


def _ts(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S+00")


def call_status(n: int) -> str:
    status = "ended"
    for live, every in STATUS_EVERY.items():
        if n % every == 0:
            status = live
    return status


def call_row(n: int, *, created: datetime) -> str:
    """One COPY text line for calls_call."""
    status = call_status(n)
    ended = status == "ended"
    at = _ts(created)
    end = _ts(created + timedelta(seconds=61))
    fields = [
        call_id(n), "inbound", "+15550100", f"+1555{n % 10_000_000:07d}", status,
        "completed" if ended else "", at, at, end if ended else r"\N", "61" if ended else r"\N",
        "Recording completed" if ended else "Answered", at, *call_flow_step(n), "f", at,
        end if ended else at,
    ]  # fmt: skip
    return "\t".join(fields) + "\n"


def call_problems(n: int) -> list[str]:
    """The problem codes of call n, none for most calls."""
    if n % PROBLEM_EVERY:
        return []
    if call_status(n) != "ended":
        return [STUCK]
    turn = n // PROBLEM_EVERY
    first = turn % len(ENDED_PROBLEMS)
    codes = [ENDED_PROBLEMS[first]]
    if turn % SECOND_PROBLEM_EVERY == 1:
        codes.append(ENDED_PROBLEMS[(first + 1) % len(ENDED_PROBLEMS)])
    return codes


def newest_call_with(code: str, *, calls: int) -> int | None:
    """The number of the newest call (lowest n) with that problem, if any of `calls` has."""
    return next((n for n in range(calls) if code in call_problems(n)), None)


def problem_row(call_pk: int, code: str, *, created: datetime) -> str:
    """One COPY text line for calls_callproblem: found a few minutes into the call,
    errors alerted at once, warnings only listed."""
    severity, message = PROBLEM_WORDS[code]
    detected = _ts(created + timedelta(minutes=5))
    notified = detected if severity == "error" else r"\N"
    return "\t".join([str(call_pk), code, severity, message, detected, notified]) + "\n"


def call_recording(n: int) -> str | None:
    """The status of call n's recording, None for a call not recorded."""
    if n % RECORDED_EVERY or call_status(n) != "ended":
        return None
    turn = n // RECORDED_EVERY
    if turn % RECORDING_FAILED_EVERY == 1:
        return "failed"
    if turn % RECORDING_STARTED_EVERY == 2:
        return "started"
    return "completed"


def recording_row(call_pk: int, n: int, status: str, *, created: datetime) -> str:
    """One COPY text line for recordings_recording: started a few seconds into call n,
    its audio not fetched (no worker runs in the benchmark)."""
    started = _ts(created + timedelta(seconds=3))
    ended = _ts(created + timedelta(seconds=61))
    completed, failed = status == "completed", status == "failed"
    fields = [
        f"rec_{call_id(n)}", str(call_pk), status, started, ended if completed else r"\N",
        ended if failed else r"\N", "58" if completed else r"\N",
        f"https://media.minivoice.example/rec_{call_id(n)}.wav" if completed else "",
        "wav" if completed else "", "928000" if completed else r"\N",
        "storage unavailable" if failed else "", "f", _ts(created), ended, "pending", "", "",
        "", "0", "pending", "", "[]", "",
    ]  # fmt: skip
    return "\t".join(fields) + "\n"


def event_row(call: int, k: int, *, created: datetime, webhook_id: str) -> str:
    """One COPY text line for calls_webhookevent: a ~380-byte delivery, processed."""
    event = EVENT_CYCLE[k % len(EVENT_CYCLE)]
    at = created + timedelta(seconds=k)
    stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    cid = call_id(call)
    body = (
        f'{{"event": "{event}", "created_at": "{stamp}", "call": {{"id": "{cid}", '
        f'"status": "in_progress", "direction": "inbound", "from": "+15550100", '
        f'"to": "+15550199"}}, "variables": {{"customer_ref": "ACME-004217", '
        f'"queue": "billing", "lang": "en", "tier": "gold"}}, "data": {{"call_id": "{cid}", '
        f'"recording_id": "rec_{cid}", "duration_seconds": 42}}}}'
    )
    headers = (
        f'{{"webhook-id": "{webhook_id}", "webhook-timestamp": "{int(at.timestamp())}", '
        f'"content-type": "application/json", "content-length": "{len(body)}", '
        '"user-agent": "MiniVoice-Webhooks/1.0"}'
    )
    when = _ts(at)
    fields = [
        webhook_id, event, cid, when, when, "1", headers, body, body, "processed", when, "1",
        when, "",
    ]  # fmt: skip
    return "\t".join(fields) + "\n"
