from __future__ import annotations

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register

from calls.models import CallProblem

_MESSAGE = (
    "MINIVOICE_WEBHOOK_SECRET is not set, so MiniVoice's webhooks cannot be verified "
    "and are refused with 503 until it is."
)
_HINT = "Set MINIVOICE_WEBHOOK_SECRET to the whsec_… secret from MiniVoice."


@register("minivoice")
def webhook_secret_is_set(app_configs, **kwargs) -> list[CheckMessage]:
    if settings.MINIVOICE_WEBHOOK_SECRETS:
        return []
    if settings.DEBUG:
        hint = _HINT + " On a laptop, `python manage.py dev_setup` generates one."
        return [Warning(_MESSAGE, hint=hint, id="minivoice.W001")]
    return [Error(_MESSAGE, hint=_HINT, id="minivoice.E001")]


@register("minivoice")
def alert_codes_are_known(app_configs, **kwargs) -> list[CheckMessage]:
    unknown = sorted(set(settings.MINIVOICE_ALERT_CODES) - set(CallProblem.Code.values))
    if unknown:
        return [
            Error(
                f"MINIVOICE_ALERT_CODES names unknown problem codes: {', '.join(unknown)}.",
                hint=f"Known codes: {', '.join(CallProblem.Code.values)}.",
                id="minivoice.E002",
            )
        ]
    alerting = settings.MINIVOICE_ALERT_CODES and (
        settings.MINIVOICE_ALERT_EMAILS or settings.MINIVOICE_ALERT_WEBHOOK_URL
    )
    if alerting and not settings.MINIVOICE_SUPPORT_BASE_URL:
        return [
            Warning(
                "Alerts are on but MINIVOICE_SUPPORT_BASE_URL is not set, so their links to "
                "a call's page have no host.",
                hint="Set MINIVOICE_SUPPORT_BASE_URL, e.g. https://support.example.com.",
                id="minivoice.W002",
            )
        ]
    return []


# What the retention settings keep, each pruned nightly by beat once set
# (minivoice_site/settings/retention.py).
RETENTION_SETTINGS = {
    "MINIVOICE_PRUNE_EVENTS_AFTER": "webhook events",
    "MINIVOICE_PRUNE_EXCHANGES_AFTER": "answer_url exchanges",
    "MINIVOICE_PRUNE_RECORDINGS_AFTER": "recordings' audio",
    "MINIVOICE_PRUNE_TRANSCRIPTS_AFTER": "transcripts",
}


@register("minivoice", deploy=True)
def retention_is_set(app_configs, **kwargs) -> list[CheckMessage]:
    """`check --deploy`: with no retention at all, what callers said is kept for ever."""
    if any(getattr(settings, name, None) is not None for name in RETENTION_SETTINGS):
        return []
    kept = ", ".join(RETENTION_SETTINGS.values())
    return [
        Warning(
            f"No retention is set: {kept} are kept for ever.",
            hint="Set one or more of "
            + ", ".join(RETENTION_SETTINGS)
            + " (e.g. 90d); beat prunes each nightly.",
            id="minivoice.W010",
        )
    ]
