"""Django itself: apps, middleware, templates, the database, static and audio files,
security defaults, DRF and logging."""

from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from minivoice_site.env import (
    envaudiostorage,
    envbool,
    envdatabase,
    envint,
    envlist,
    envstr,
)

BASE_DIR = Path(__file__).resolve().parents[2]
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
