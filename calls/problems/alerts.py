"""Alerts: support hears of chosen problems by email and/or a chat webhook.

At most once per call and code (the problem row is claimed before anything is sent),
at most MINIVOICE_ALERT_MAX_PER_HOUR in any hour, sent by a Celery task after commit,
never on MiniVoice's request path. Off until MINIVOICE_ALERT_CODES names codes and an
email address or webhook URL is set.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from calls import dispatch
from calls.models import CallProblem

logger = logging.getLogger(__name__)

# A chat service that does not answer within this is down; the alert is logged, not retried.
WEBHOOK_TIMEOUT_SECONDS = 5


def alerts_enabled() -> bool:
    return bool(settings.MINIVOICE_ALERT_CODES) and bool(
        settings.MINIVOICE_ALERT_EMAILS or settings.MINIVOICE_ALERT_WEBHOOK_URL
    )


def problems_alert_later(*, problem_ids: list[int]) -> None:
    """Hand new problems to the alert task once the transaction that found them commits."""
    if not alerts_enabled():
        return
    transaction.on_commit(partial(dispatch.send_problem_alerts, list(problem_ids)))


@dataclass(frozen=True)
class AlertResult:
    sent: list[int]
    rate_limited: list[int]


def problems_alert(*, problem_ids: list[int], now: datetime | None = None) -> AlertResult:
    """Tell support about each problem of a chosen code not told about yet."""
    now = now or timezone.now()
    sent, limited = [], []
    if not alerts_enabled():
        return AlertResult(sent, limited)
    problems = CallProblem.objects.filter(
        pk__in=problem_ids, code__in=settings.MINIVOICE_ALERT_CODES, notified_at__isnull=True
    ).select_related("call")
    for problem in problems.order_by("pk"):
        recent = CallProblem.objects.filter(notified_at__gt=now - timedelta(hours=1)).count()
        if recent >= settings.MINIVOICE_ALERT_MAX_PER_HOUR:
            limited.append(problem.pk)
            continue
        # Claimed before sending: a second worker on the same problem finds it taken, so
        # support hears once even if sending fails (it is logged for a person then).
        claimed = CallProblem.objects.filter(pk=problem.pk, notified_at__isnull=True).update(
            notified_at=now
        )
        if claimed != 1:
            continue
        _deliver(problem)
        sent.append(problem.pk)
    if limited:
        logger.warning(
            "Alert limit of %s an hour reached: %s problem(s) not alerted (ids %s); "
            "they are on their calls' pages.",
            settings.MINIVOICE_ALERT_MAX_PER_HOUR,
            len(limited),
            limited,
        )
    return AlertResult(sent, limited)


def call_admin_url(problem: CallProblem) -> str:
    path = reverse("admin:calls_call_change", args=[problem.call_id])
    return settings.MINIVOICE_SUPPORT_BASE_URL.rstrip("/") + path


def _deliver(problem: CallProblem) -> None:
    call = problem.call
    link = call_admin_url(problem)
    subject = f"[MiniVoice] {problem.get_code_display()} on call {call.minivoice_id}"
    body = f"{problem.message}\n\nThe call's page: {link}\n"
    if settings.MINIVOICE_ALERT_EMAILS:
        try:
            send_mail(subject, body, None, settings.MINIVOICE_ALERT_EMAILS)
        except Exception:
            logger.exception("Could not email the alert for problem %s", problem.pk)
    if settings.MINIVOICE_ALERT_WEBHOOK_URL:
        document = {
            "text": f"{subject}: {problem.message} {link}",
            "call_id": call.minivoice_id,
            "code": problem.code,
            "severity": problem.severity,
            "message": problem.message,
            "url": link,
        }
        _post_json(settings.MINIVOICE_ALERT_WEBHOOK_URL, document, problem_id=problem.pk)


def _post_json(url: str, document: dict, *, problem_id: int) -> None:
    request = urllib.request.Request(
        url,
        data=json.dumps(document).encode(),
        headers={"Content-Type": "application/json", "User-Agent": "minivoice-support-alerts"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_SECONDS) as response:
            response.read(1024)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        logger.error("Could not post the alert for problem %s to the webhook: %s", problem_id, exc)
