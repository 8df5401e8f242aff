"""The QA list's filters: what a recording came to, how long it is, and the call's flow.

Each has fixed choices, and each narrows with an indexed column or an EXISTS on an
index (calls.console.filters says why no filter runs a SELECT DISTINCT).
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Exists, OuterRef, Q

from calls.flows import FALLBACK_FLOW
from calls.models import AnswerExchange, Flow
from recordings.models import AudioState, Recording

Status = Recording.Status

# What a recording came to, each recording in exactly one: MiniVoice's status, then, for
# a completed one, whether its audio is still to be had here.
OUTCOMES = {
    "completed": (
        "Completed",
        Q(status=Status.COMPLETED, audio_state__in=[AudioState.STORED, AudioState.PENDING]),
    ),
    "failed": ("Failed", Q(status=Status.FAILED)),
    "started": ("Started, never completed", Q(status=Status.STARTED)),
    "unavailable": (
        "Audio unavailable",
        Q(status=Status.COMPLETED, audio_state=AudioState.UNAVAILABLE),
    ),
    "pruned": ("Pruned (audio deleted)", Q(audio_state=AudioState.PRUNED)),
}


def outcome_of(recording: Recording) -> str:
    """The OUTCOMES key that holds `recording`, as the filter would find it."""
    if recording.audio_state == AudioState.PRUNED:
        return "pruned"
    if recording.status != Status.COMPLETED:
        return recording.status
    return "unavailable" if recording.audio_state == AudioState.UNAVAILABLE else "completed"


class OutcomeFilter(admin.SimpleListFilter):
    title = "outcome"
    parameter_name = "outcome"

    def lookups(self, request, model_admin) -> list:
        return [(key, label) for key, (label, _) in OUTCOMES.items()]

    def queryset(self, request, queryset):
        if self.value() in OUTCOMES:
            return queryset.filter(OUTCOMES[self.value()][1])
        return queryset


# Lengths a QA reviewer picks from: a blip, a short call, a normal one, a long one.
DURATIONS = {
    "under-30s": ("Under 30 seconds", Q(duration_seconds__lt=30)),
    "30s-2m": ("30 seconds to 2 minutes", Q(duration_seconds__gte=30, duration_seconds__lt=120)),
    "2m-10m": ("2 to 10 minutes", Q(duration_seconds__gte=120, duration_seconds__lt=600)),
    "over-10m": ("10 minutes or more", Q(duration_seconds__gte=600)),
    "unknown": ("Unknown", Q(duration_seconds__isnull=True)),
}


class DurationFilter(admin.SimpleListFilter):
    title = "duration"
    parameter_name = "duration"

    def lookups(self, request, model_admin) -> list:
        return [(key, label) for key, (label, _) in DURATIONS.items()]

    def queryset(self, request, queryset):
        if self.value() in DURATIONS:
            return queryset.filter(DURATIONS[self.value()][1])
        return queryset


class FlowFilter(admin.SimpleListFilter):
    """The call flow whose actions the recording's call got (its answer_url exchanges say
    which); the fallback, for calls no flow could answer."""

    title = "flow"
    parameter_name = "flow"

    def lookups(self, request, model_admin) -> list:
        flows = Flow.objects.order_by("name").values_list("name", flat=True)
        return [
            *((name, name) for name in flows),
            (FALLBACK_FLOW, "Fallback (no flow could answer)"),
        ]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        # EXISTS over the exchanges' call index: a call asks our answer_url a few times.
        answered = AnswerExchange.objects.filter(call_id=OuterRef("call_id"), flow=self.value())
        return queryset.filter(Exists(answered))
