"""Typed readers for settings taken from the environment.

Each helper raises ImproperlyConfigured with the variable's name on a bad value, so a
typo in production is a clear start-up error rather than a silent default.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from datetime import timedelta

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def envstr(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def envbool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false (got {raw!r})")


def envint(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number (got {raw!r})") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum} (got {value})")
    return value


_SPAN = re.compile(r"(\d{1,6})([mhd])")
_SPAN_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def envspan(name: str) -> timedelta | None:
    """A length of time such as `180d`, `12h` or `30m`; None when unset or empty."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    match = _SPAN.fullmatch(raw)
    if not match or int(match[1]) == 0:
        raise ImproperlyConfigured(
            f"{name} must be a length of time such as 180d, 12h or 30m, or empty (got {raw!r})"
        )
    return timedelta(**{_SPAN_UNITS[match[2]]: int(match[1])})


def envlist(name: str, default: list[str] | None = None) -> list[str]:
    """A comma- or space-separated list; empty items are dropped."""
    raw = os.environ.get(name)
    if raw is None:
        return list(default or [])
    return [item for item in raw.replace(",", " ").split() if item]


def envwebhooksecrets(name: str) -> list[str]:
    """Standard Webhooks secrets (`whsec_` + base64), space-separated during a rotation."""
    return webhook_secrets(os.environ.get(name, ""), source=name)


def webhook_secrets(raw: str, *, source: str) -> list[str]:
    """Parse and check `whsec_…` secrets from `source` (a variable's name or a file)."""
    secrets = raw.replace(",", " ").split()
    for secret in secrets:
        if not secret.startswith("whsec_"):
            raise ImproperlyConfigured(f"{source}: every secret must start with 'whsec_'")
        try:
            key = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
        except (binascii.Error, ValueError):
            key = b""
        if not key:
            raise ImproperlyConfigured(f"{source}: 'whsec_' must be followed by base64")
    return secrets


_DATABASE_SCHEMES = ("sqlite", "postgres", "postgresql", "pgsql")
_BROKER_SCHEMES = ("redis", "rediss", "amqp", "amqps")


def envdatabase(name: str, *, default: str, conn_max_age: int) -> dict:
    """A DATABASES entry from a URL: SQLite or PostgreSQL (through psycopg 3)."""
    url = envstr(name) or default
    scheme, separator, _ = url.partition("://")
    if not separator or scheme not in _DATABASE_SCHEMES:
        raise ImproperlyConfigured(
            f"{name} must be a sqlite:/// or postgres:// URL (got {url.partition(':')[0]!r})"
        )
    return dj_database_url.parse(url, conn_max_age=conn_max_age, conn_health_checks=True)


def envbroker(name: str) -> str:
    """A Celery broker URL (Redis or RabbitMQ), or "" when unset."""
    url = envstr(name)
    scheme, separator, _ = url.partition("://")
    if url and (not separator or scheme not in _BROKER_SCHEMES):
        raise ImproperlyConfigured(f"{name} must be a redis:// or amqp:// URL")
    return url


_AUDIO_STORAGES = ("filesystem", "s3")


def envaudiostorage() -> dict:
    """The `STORAGES["default"]` entry where recordings' audio is kept, from AUDIO_STORAGE:
    files under MEDIA_ROOT (`filesystem`), or an S3-compatible bucket through
    django-storages (`s3`), named by the AWS_* variables README lists. Credentials are
    never read here: boto3 finds them (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or the
    machine's role)."""
    kind = envstr("AUDIO_STORAGE", "filesystem").lower()
    if kind not in _AUDIO_STORAGES:
        raise ImproperlyConfigured(f"AUDIO_STORAGE must be filesystem or s3 (got {kind!r})")
    if kind == "filesystem":
        return {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    bucket = envstr("AWS_STORAGE_BUCKET_NAME")
    if not bucket:
        raise ImproperlyConfigured("AUDIO_STORAGE=s3 needs AWS_STORAGE_BUCKET_NAME")
    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": bucket,
            "endpoint_url": envstr("AWS_S3_ENDPOINT_URL") or None,
            "region_name": envstr("AWS_S3_REGION_NAME") or None,
            "default_acl": None,  # the bucket's own policy: private
            # Staff listen through a presigned link the audio view redirects to, signed
            # for this long: short, since whoever holds it can fetch the audio.
            "querystring_auth": True,
            "querystring_expire": envint("AWS_QUERYSTRING_EXPIRE", 300, minimum=1),
            # botocore still presigns with the old SigV2 unless told; newer AWS regions
            # (and most S3-compatible stores) accept only SigV4.
            "signature_version": "s3v4",
            "file_overwrite": True,  # a recording's key is its own: a retry replaces it
        },
    }


# Values published as examples (.env.example, and the Standard Webhooks documentation's
# sample secret): a deployment that copied one has no secret at all.
EXAMPLE_VALUES = {
    "SECRET_KEY": frozenset({"change-me-to-50-random-characters-from-a-password-generator"}),
    "MINIVOICE_WEBHOOK_SECRET": frozenset(
        {
            "whsec_cGFzdGUtdGhlLXNlY3JldC1mcm9tLW1pbml2b2ljZS1oZXJl",
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        }
    ),
}


def refuse_example_values(name: str, values: list[str]) -> None:
    """ImproperlyConfigured if any of `values` is a published example of variable `name`."""
    if EXAMPLE_VALUES[name].intersection(values):
        raise ImproperlyConfigured(
            f"{name} is the example value from .env.example; set a secret of your own"
        )
