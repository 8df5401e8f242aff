"""Settings read from the environment: the typed helpers, the settings module as a whole
(in a subprocess, since settings are read once at import), and our system check."""

from __future__ import annotations

import logging
import os
import secrets
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.checks import Error, Warning
from django.core.exceptions import ImproperlyConfigured

from calls.checks import alert_codes_are_known, webhook_secret_is_set
from calls.tasks import process_webhook_event
from conftest import TEST_SECRET
from minivoice_site.env import (
    envbool,
    envbroker,
    envdatabase,
    envint,
    envlist,
    envspan,
    envwebhooksecrets,
    webhook_secrets,
)

BASE_DIR = Path(__file__).resolve().parents[2]

# Every variable minivoice_site.settings reads. CI runs the suite with some of them set
# (DATABASE_URL, CELERY_BROKER_URL); each subprocess starts without any of them.
SETTINGS_VARIABLES = (
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "DATABASE_URL",
    "CONN_MAX_AGE",
    "DATABASE_PREPARED_STATEMENTS",
    "TIME_ZONE",
    "SECURE_SSL_REDIRECT",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SECURE_PROXY_SSL_HEADER",
    "CELERY_BROKER_URL",
    "MINIVOICE_WEBHOOK_SECRET",
    "LOG_LEVEL",
    "MINIVOICE_RECORDING_START_GRACE_SECONDS",
    "MINIVOICE_RECORDING_COMPLETE_GRACE_SECONDS",
    "MINIVOICE_ANSWER_URL_GRACE_SECONDS",
    "MINIVOICE_CALL_STUCK_HOURS",
    "MINIVOICE_DASHBOARD_REFRESH_SECONDS",
    "MINIVOICE_PRUNE_RECORDINGS_AFTER",
    "MINIVOICE_RECORDING_FETCH_LEASE_SECONDS",
    "MINIVOICE_PRUNE_TRANSCRIPTS",
    "MINIVOICE_PRUNE_EVENTS_AFTER",
    "MINIVOICE_PRUNE_EXCHANGES_AFTER",
    "MINIVOICE_PRUNE_TRANSCRIPTS_AFTER",
    "MINIVOICE_AUDIT_RETENTION",
    "MINIVOICE_ALERT_CODES",
    "MINIVOICE_ALERT_EMAILS",
    "MINIVOICE_ALERT_WEBHOOK_URL",
    "MINIVOICE_ALERT_MAX_PER_HOUR",
    "AUDIO_STORAGE",
    "AWS_STORAGE_BUCKET_NAME",
    "AWS_S3_ENDPOINT_URL",
    "AWS_S3_REGION_NAME",
    "AWS_QUERYSTRING_EXPIRE",
    "MINIVOICE_SUPPORT_BASE_URL",
    "EMAIL_HOST",
    "EMAIL_PORT",
    "EMAIL_HOST_USER",
    "EMAIL_HOST_PASSWORD",
    "EMAIL_USE_TLS",
    "DEFAULT_FROM_EMAIL",
    "BROKER_PUBLISH_TIMEOUT_MS",
    "MINIVOICE_EVENT_RETRY_HOURS",
    "REQUEST_READ_TIMEOUT_SECONDS",
    "MINIVOICE_LOGIN_FAILURE_LIMIT",
    "MINIVOICE_LOGIN_LOCKOUT_MINUTES",
    "MINIVOICE_SESSION_IDLE_MINUTES",
    "TRUSTED_PROXY_COUNT",
    "MINIVOICE_REQUIRE_2FA",
)
POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/test"


# -- The helpers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1", True),
        ("true", True),
        (" TRUE ", True),
        ("yes", True),
        ("on", True),
        ("0", False),
        ("false", False),
        ("No", False),
        ("off", False),
        ("", False),
    ],
)
def test_envbool_reads_true_and_false_words(monkeypatch, raw, expected):
    monkeypatch.setenv("DEBUG", raw)
    assert envbool("DEBUG", not expected) is expected


@pytest.mark.parametrize("default", [True, False])
def test_envbool_unset_gives_the_default(monkeypatch, default):
    monkeypatch.delenv("DEBUG", raising=False)
    assert envbool("DEBUG", default) is default


@pytest.mark.parametrize(
    ("raw", "default", "expected"),
    [("42", 600, 42), (" 0 ", 600, 0), ("", 600, 600), ("   ", 7, 7), (None, 600, 600)],
)
def test_envint_reads_whole_numbers_and_defaults_when_unset_or_blank(
    monkeypatch, raw, default, expected
):
    if raw is None:
        monkeypatch.delenv("CONN_MAX_AGE", raising=False)
    else:
        monkeypatch.setenv("CONN_MAX_AGE", raw)
    assert envint("CONN_MAX_AGE", default, minimum=0) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("180d", timedelta(days=180)),
        (" 12h ", timedelta(hours=12)),
        ("30m", timedelta(minutes=30)),
        ("", None),
        ("  ", None),
        (None, None),
    ],
)
def test_envspan_reads_a_length_of_time_and_none_when_unset_or_empty(monkeypatch, raw, expected):
    if raw is None:
        monkeypatch.delenv("MINIVOICE_PRUNE_RECORDINGS_AFTER", raising=False)
    else:
        monkeypatch.setenv("MINIVOICE_PRUNE_RECORDINGS_AFTER", raw)
    assert envspan("MINIVOICE_PRUNE_RECORDINGS_AFTER") == expected


@pytest.mark.parametrize(
    ("raw", "default", "expected"),
    [
        ("example.com", [], ["example.com"]),
        ("a.example, b.example c.example", [], ["a.example", "b.example", "c.example"]),
        (" ,, ", ["kept"], []),
        (None, ["localhost"], ["localhost"]),
        (None, None, []),
    ],
)
def test_envlist_splits_on_commas_and_spaces_and_defaults_when_unset(
    monkeypatch, raw, default, expected
):
    if raw is None:
        monkeypatch.delenv("ALLOWED_HOSTS", raising=False)
    else:
        monkeypatch.setenv("ALLOWED_HOSTS", raw)
    assert envlist("ALLOWED_HOSTS", default) == expected


def test_envwebhooksecrets_accepts_several_secrets_during_a_rotation(monkeypatch):
    other = "whsec_" + "b3RoZXItc2VjcmV0LW9mLTI0LWJ5dGVz"
    monkeypatch.setenv("MINIVOICE_WEBHOOK_SECRET", f" {TEST_SECRET}  {other} ")
    assert envwebhooksecrets("MINIVOICE_WEBHOOK_SECRET") == [TEST_SECRET, other]


def test_envwebhooksecrets_unset_is_no_secret(monkeypatch):
    monkeypatch.delenv("MINIVOICE_WEBHOOK_SECRET", raising=False)
    assert envwebhooksecrets("MINIVOICE_WEBHOOK_SECRET") == []


@pytest.mark.parametrize(
    ("reader", "name", "raw", "message"),
    [
        (lambda name: envbool(name, True), "DEBUG", "maybe", "true or false"),
        (lambda name: envint(name, 600, minimum=0), "CONN_MAX_AGE", "ten", "whole number"),
        (lambda name: envint(name, 600, minimum=0), "CONN_MAX_AGE", "1.5", "whole number"),
        (lambda name: envint(name, 600, minimum=0), "CONN_MAX_AGE", "-1", "at least 0"),
        (envwebhooksecrets, "MINIVOICE_WEBHOOK_SECRET", "MfKQ9r8GKYqrTwjUPD8I", "whsec_"),
        (envwebhooksecrets, "MINIVOICE_WEBHOOK_SECRET", f"{TEST_SECRET} plain", "whsec_"),
        (envwebhooksecrets, "MINIVOICE_WEBHOOK_SECRET", "whsec_not*base64!", "base64"),
        (envwebhooksecrets, "MINIVOICE_WEBHOOK_SECRET", "whsec_", "base64"),
        (envspan, "MINIVOICE_PRUNE_RECORDINGS_AFTER", "6 months", "length of time"),
        (envspan, "MINIVOICE_PRUNE_RECORDINGS_AFTER", "0d", "length of time"),
        (envspan, "MINIVOICE_PRUNE_RECORDINGS_AFTER", "180", "length of time"),
    ],
    ids=[
        "bool-word",
        "int-word",
        "int-decimal",
        "int-below-minimum",
        "secret-without-prefix",
        "second-secret-without-prefix",
        "secret-not-base64",
        "secret-empty-key",
        "span-words",
        "span-zero",
        "span-no-unit",
    ],
)
def test_bad_value_raises_improperly_configured_naming_the_variable(
    monkeypatch, reader, name, raw, message
):
    monkeypatch.setenv(name, raw)
    with pytest.raises(ImproperlyConfigured) as excinfo:
        reader(name)
    assert name in str(excinfo.value)
    assert message in str(excinfo.value)


@pytest.mark.parametrize(
    ("raw", "message"),
    [("whsec_abc!", "base64"), ("abc", "whsec_"), (f"{TEST_SECRET}\nwhsec_", "base64")],
    ids=["not-base64", "without-prefix", "second-line-empty-key"],
)
def test_webhook_secrets_from_a_file_name_the_file(raw, message):
    with pytest.raises(ImproperlyConfigured) as excinfo:
        webhook_secrets(raw, source="/x/y")
    assert str(excinfo.value).startswith("/x/y: ")
    assert message in str(excinfo.value)


def test_webhook_secrets_from_a_file_may_span_lines():
    other = "whsec_" + "b3RoZXItc2VjcmV0LW9mLTI0LWJ5dGVz"
    assert webhook_secrets(f"{TEST_SECRET}\n{other}\n", source="/x/y") == [TEST_SECRET, other]


@pytest.mark.parametrize(
    ("url", "engine"),
    [
        ("sqlite:////tmp/minivoice.sqlite3", "django.db.backends.sqlite3"),
        (POSTGRES_URL, "django.db.backends.postgresql"),
        ("postgresql://postgres@127.0.0.1:5432/test", "django.db.backends.postgresql"),
        ("pgsql://postgres@127.0.0.1:5432/test", "django.db.backends.postgresql"),
    ],
    ids=["sqlite", "postgres", "postgresql", "pgsql"],
)
def test_envdatabase_reads_sqlite_and_postgresql_urls(monkeypatch, url, engine):
    monkeypatch.setenv("DATABASE_URL", f" {url} ")

    database = envdatabase("DATABASE_URL", default="sqlite:///unused.sqlite3", conn_max_age=42)

    assert database["ENGINE"] == engine
    assert database["CONN_MAX_AGE"] == 42
    assert database["CONN_HEALTH_CHECKS"] is True


@pytest.mark.parametrize("raw", [None, "", "   "], ids=["unset", "empty", "blank"])
def test_envdatabase_unset_or_blank_uses_the_default(monkeypatch, raw):
    if raw is None:
        monkeypatch.delenv("DATABASE_URL", raising=False)
    else:
        monkeypatch.setenv("DATABASE_URL", raw)

    database = envdatabase("DATABASE_URL", default="sqlite:////tmp/default.sqlite3", conn_max_age=0)

    assert database["ENGINE"] == "django.db.backends.sqlite3"
    assert database["NAME"] == "/tmp/default.sqlite3"


@pytest.mark.parametrize(
    "url",
    [
        "mysql://x",
        "mysql://app:s3cret-password@db.example/app",
        "oracle://app:s3cret-password@db.example/app",
        "postgres:/missing-slashes",
        "db.example:5432",
        "not a url",
    ],
)
def test_envdatabase_refuses_other_databases_naming_the_variable(monkeypatch, url):
    monkeypatch.setenv("DATABASE_URL", url)

    with pytest.raises(ImproperlyConfigured) as excinfo:
        envdatabase("DATABASE_URL", default="sqlite:///unused.sqlite3", conn_max_age=0)

    message = str(excinfo.value)
    assert message.startswith("DATABASE_URL ")
    assert "s3cret-password" not in message  # the error may end up in logs


@pytest.mark.parametrize(
    "url",
    [
        "redis://127.0.0.1:6379/0",
        "rediss://:pw@redis.example:6380/0",
        "amqp://guest:guest@127.0.0.1:5672//",
        "amqps://rabbit.example//",
    ],
)
def test_envbroker_reads_redis_and_rabbitmq_urls(monkeypatch, url):
    monkeypatch.setenv("CELERY_BROKER_URL", f"  {url}\n")
    assert envbroker("CELERY_BROKER_URL") == url


@pytest.mark.parametrize("raw", [None, "", "  "], ids=["unset", "empty", "blank"])
def test_envbroker_unset_or_blank_is_no_broker(monkeypatch, raw):
    if raw is None:
        monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    else:
        monkeypatch.setenv("CELERY_BROKER_URL", raw)
    assert envbroker("CELERY_BROKER_URL") == ""


@pytest.mark.parametrize(
    "url",
    ["foo://", "foo://user:s3cret-password@host", "memory://", "127.0.0.1:6379"],
)
def test_envbroker_refuses_other_urls_naming_the_variable(monkeypatch, url):
    monkeypatch.setenv("CELERY_BROKER_URL", url)

    with pytest.raises(ImproperlyConfigured) as excinfo:
        envbroker("CELERY_BROKER_URL")

    message = str(excinfo.value)
    assert message.startswith("CELERY_BROKER_URL ")
    assert "s3cret-password" not in message


# -- The settings module as a whole -----------------------------------------------------------


@pytest.fixture
def manage(tmp_path):
    """Run manage.py in a fresh interpreter with only `overrides` set among our variables.

    The SQLite database goes to tmp_path unless DATABASE_URL is overridden, so no file
    appears in the checkout.
    """

    def run(*args: str, **overrides: str) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if k not in SETTINGS_VARIABLES}
        env["DJANGO_SETTINGS_MODULE"] = "minivoice_site.settings"
        env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'x.sqlite3'}"
        env.update(overrides)
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    return run


def production(**overrides: str) -> dict[str, str]:
    """The variables a production deployment sets."""
    return {
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "example.com",
        "MINIVOICE_WEBHOOK_SECRET": TEST_SECRET,
        # Production keeps callers' data for a while, not for ever (check --deploy warns).
        "MINIVOICE_PRUNE_EVENTS_AFTER": "90d",
        **overrides,
    }


def setting(manage, expression: str, **overrides: str) -> str:
    result = manage(
        "shell",
        "--no-imports",
        "-c",
        f"from django.conf import settings; print({expression})",
        **overrides,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def example_value(name: str) -> str:
    """The value .env.example gives `name`."""
    for line in (BASE_DIR / ".env.example").read_text().splitlines():
        if line.startswith(f"{name}="):
            return line.partition("=")[2]
    raise AssertionError(f"{name} is not in .env.example")


BAD_SETTINGS = [
    pytest.param({"DEBUG": "false"}, "SECRET_KEY", id="no-secret-key-in-production"),
    pytest.param(
        production(SECRET_KEY=example_value("SECRET_KEY")),
        "SECRET_KEY",
        id="example-secret-key-in-production",
    ),
    pytest.param(
        production(MINIVOICE_WEBHOOK_SECRET=example_value("MINIVOICE_WEBHOOK_SECRET")),
        "MINIVOICE_WEBHOOK_SECRET",
        id="example-webhook-secret-in-production",
    ),
    pytest.param(
        production(MINIVOICE_WEBHOOK_SECRET="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
        "MINIVOICE_WEBHOOK_SECRET",
        id="documentation-sample-secret-in-production",
    ),
    pytest.param({"DEBUG": "maybe"}, "DEBUG", id="debug-maybe"),
    pytest.param({"CONN_MAX_AGE": "ten"}, "CONN_MAX_AGE", id="conn-max-age-word"),
    pytest.param(
        {"MINIVOICE_WEBHOOK_SECRET": "not-a-whsec"}, "MINIVOICE_WEBHOOK_SECRET", id="bad-secret"
    ),
    pytest.param(
        {"MINIVOICE_RECORDING_START_GRACE_SECONDS": "0"},
        "MINIVOICE_RECORDING_START_GRACE_SECONDS",
        id="no-grace",
    ),
    pytest.param({"MINIVOICE_CALL_STUCK_HOURS": "4h"}, "MINIVOICE_CALL_STUCK_HOURS", id="hours"),
    pytest.param(
        {"MINIVOICE_DASHBOARD_REFRESH_SECONDS": "90"},
        "MINIVOICE_DASHBOARD_REFRESH_SECONDS",
        id="dashboard-counted-less-than-every-minute",
    ),
    pytest.param(
        {"MINIVOICE_PRUNE_RECORDINGS_AFTER": "half a year"},
        "MINIVOICE_PRUNE_RECORDINGS_AFTER",
        id="prune-after-words",
    ),
    pytest.param(
        {"MINIVOICE_LOGIN_LOCKOUT_MINUTES": "15m"},
        "MINIVOICE_LOGIN_LOCKOUT_MINUTES",
        id="lockout-minutes-with-a-unit",
    ),
    pytest.param(
        {"MINIVOICE_ALERT_WEBHOOK_URL": "ftp://chat.example/hook"},
        "MINIVOICE_ALERT_WEBHOOK_URL",
        id="alert-url-not-http",
    ),
]


@pytest.mark.parametrize(("overrides", "variable"), BAD_SETTINGS)
def test_bad_setting_stops_manage_py_naming_the_variable(manage, overrides, variable):
    result = manage("check", **overrides)
    assert result.returncode != 0
    assert variable in result.stderr


@pytest.mark.parametrize(
    ("overrides", "variable"),
    # One raised by settings.py itself, one by an env helper.
    [BAD_SETTINGS[0], BAD_SETTINGS[1]],
)
def test_bad_setting_is_reported_without_a_traceback(manage, overrides, variable):
    # A person setting up a deployment should read one line saying what to fix, not 40
    # lines of Django internals ending in it.
    result = manage("check", **overrides)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert variable in result.stderr


@pytest.mark.parametrize(
    ("overrides", "variable"),
    [
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
        ({"CELERY_BROKER_URL": "foo://"}, "CELERY_BROKER_URL"),
    ],
    ids=["mysql-database", "unknown-broker"],
)
def test_bad_url_stops_manage_py_with_one_configuration_error_line(manage, overrides, variable):
    result = manage("check", **overrides)

    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Configuration error: ")
    assert variable in lines[0]


@pytest.mark.parametrize("allowed_hosts", [None, "", " , "], ids=["unset", "empty", "blank"])
def test_production_without_allowed_hosts_stops_with_one_configuration_error_line(
    manage, allowed_hosts
):
    env = production()
    if allowed_hosts is None:
        del env["ALLOWED_HOSTS"]
    else:
        env["ALLOWED_HOSTS"] = allowed_hosts

    result = manage("check", **env)

    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Configuration error: ALLOWED_HOSTS ")


def test_production_settings_pass_the_deploy_checks(manage):
    result = manage("check", "--deploy", "--fail-level", "WARNING", **production())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_without_webhook_secret_fails_the_check(manage):
    env = production()
    del env["MINIVOICE_WEBHOOK_SECRET"]
    result = manage("check", **env)
    assert result.returncode != 0
    assert "minivoice.E001" in result.stdout + result.stderr


def test_laptop_without_webhook_secret_only_warns(manage, tmp_path):
    # DEBUG on by default; the dev secret file of the checkout (if any) would hide the
    # warning, so this runs only when it is absent.
    if (BASE_DIR / "var" / "dev-webhook-secret").exists():
        pytest.skip("this checkout has a generated dev webhook secret")
    result = manage("check")
    assert result.returncode == 0, result.stderr
    assert "minivoice.W001" in result.stdout + result.stderr


def test_database_url_selects_postgresql_with_persistent_health_checked_connections(manage):
    printed = setting(
        manage,
        "settings.DATABASES['default']['ENGINE'], settings.DATABASES['default']['CONN_MAX_AGE'],"
        " settings.DATABASES['default']['CONN_HEALTH_CHECKS']",
        DATABASE_URL=POSTGRES_URL,
    )
    assert printed == "django.db.backends.postgresql 600 True"


@pytest.mark.parametrize(
    ("overrides", "threshold"),
    [({}, "5"), ({"DATABASE_PREPARED_STATEMENTS": "false"}, "None")],
    ids=["default", "off-behind-a-pooler"],
)
def test_postgresql_binds_on_the_server_and_prepares_statements_unless_turned_off(
    manage, overrides, threshold
):
    printed = setting(
        manage,
        "settings.DATABASES['default']['OPTIONS']['server_side_binding'],"
        " settings.DATABASES['default']['OPTIONS']['prepare_threshold']",
        DATABASE_URL=POSTGRES_URL,
        **overrides,
    )
    assert printed == f"True {threshold}"


def test_sqlite_waits_for_a_writer_instead_of_failing(manage):
    printed = setting(manage, "settings.DATABASES['default']['OPTIONS']")
    assert "'timeout': 20" in printed
    assert "'transaction_mode': 'IMMEDIATE'" in printed
    assert "server_side_binding" not in printed  # psycopg's option, PostgreSQL only


@pytest.mark.parametrize(
    ("overrides", "eager"),
    [({}, "True"), ({"CELERY_BROKER_URL": "redis://127.0.0.1:6379/0"}, "False")],
    ids=["no-broker", "broker"],
)
def test_tasks_run_in_process_only_without_a_broker(manage, overrides, eager):
    assert setting(manage, "settings.CELERY_TASK_ALWAYS_EAGER", **overrides) == eager


def test_models_and_migrations_agree(manage):
    result = manage("makemigrations", "--check", "--dry-run")
    assert result.returncode == 0, result.stdout + result.stderr


# -- The system check --------------------------------------------------------------------------


def test_check_is_silent_when_a_webhook_secret_is_set(settings):
    settings.MINIVOICE_WEBHOOK_SECRETS = [TEST_SECRET]
    settings.DEBUG = False
    assert webhook_secret_is_set(None) == []


@pytest.mark.parametrize(
    ("debug", "level", "check_id"),
    [(True, Warning, "minivoice.W001"), (False, Error, "minivoice.E001")],
)
def test_check_reports_a_missing_webhook_secret(settings, debug, level, check_id):
    settings.MINIVOICE_WEBHOOK_SECRETS = []
    settings.DEBUG = debug
    [message] = webhook_secret_is_set(None)
    assert type(message) is level
    assert message.id == check_id
    assert "MINIVOICE_WEBHOOK_SECRET" in message.msg


def test_suite_runs_tasks_in_process_whatever_the_broker():
    # conftest's eager_celery promises this even when CELERY_BROKER_URL is set (CI's
    # PostgreSQL + Redis run); the admin and send_webhook tests rely on it.
    assert process_webhook_event.app.conf.task_always_eager is True


def test_problem_grace_periods_and_alerts_have_safe_defaults(manage):
    expression = (
        "settings.MINIVOICE_RECORDING_START_GRACE_SECONDS, "
        "settings.MINIVOICE_RECORDING_COMPLETE_GRACE_SECONDS, "
        "settings.MINIVOICE_ANSWER_URL_GRACE_SECONDS, settings.MINIVOICE_CALL_STUCK_HOURS, "
        "settings.MINIVOICE_ALERT_CODES, repr(settings.MINIVOICE_ALERT_WEBHOOK_URL)"
    )
    assert setting(manage, expression) == "120 900 60 4 [] ''"
    overridden = setting(
        manage,
        "settings.MINIVOICE_CALL_STUCK_HOURS, settings.MINIVOICE_ALERT_CODES",
        MINIVOICE_CALL_STUCK_HOURS="2",
        MINIVOICE_ALERT_CODES="recording_failed, call_stuck",
    )
    assert overridden == "2 ['recording_failed', 'call_stuck']"


def test_check_reports_an_alert_code_that_does_not_exist(settings):
    settings.MINIVOICE_ALERT_CODES = ["recording_failed", "recording_lost"]

    [message] = alert_codes_are_known(None)

    assert isinstance(message, Error)
    assert message.id == "minivoice.E002"
    assert "recording_lost" in message.msg


def test_check_reports_alerts_with_no_link_base(settings):
    settings.MINIVOICE_ALERT_CODES = ["recording_failed"]
    settings.MINIVOICE_ALERT_EMAILS = ["support@example.com"]
    settings.MINIVOICE_SUPPORT_BASE_URL = ""

    [message] = alert_codes_are_known(None)

    assert isinstance(message, Warning)
    assert message.id == "minivoice.W002"


# -- Logging ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_foreign_host_header_is_one_warning_line_not_an_error_traceback(client, caplog):
    response = client.post(
        "/minivoice/webhooks/", data=b"{}", content_type="application/json", HTTP_HOST="evil.test"
    )

    assert response.status_code == 400
    host_records = [r for r in caplog.records if r.name == "django.security.DisallowedHost"]
    assert len(host_records) == 1
    assert host_records[0].levelname == "WARNING"
    assert "evil.test" in host_records[0].getMessage()
    assert not any(record.exc_info for record in caplog.records)
    assert not any(record.levelno >= logging.ERROR for record in caplog.records)
