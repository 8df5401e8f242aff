"""`manage.py dev_setup`: what `make run` does on a fresh laptop, and again on the next run."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from calls.flows.document import read_document
from calls.flows.examples import CONSENT_IVR
from calls.flows.publishing import flow_import, flow_publish
from calls.models import Flow
from calls.protocol.signatures import signed_headers, verify_signature
from calls.tests.flow_data import MAIN_LINE, main_line
from conftest import TEST_SECRET
from minivoice_site.env import envwebhooksecrets

CREDENTIALS = re.compile(r"created user '([^']+)' with password (\S+)")


@pytest.fixture
def secret_file(settings, tmp_path):
    """A fresh laptop: no secret in the environment, no generated file yet."""
    settings.DEV_WEBHOOK_SECRET_FILE = tmp_path / "var" / "dev-webhook-secret"
    settings.MINIVOICE_WEBHOOK_SECRETS = []
    return settings.DEV_WEBHOOK_SECRET_FILE


def dev_setup() -> str:
    out = StringIO()
    call_command("dev_setup", stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_fresh_laptop_gets_a_private_webhook_secret_in_the_settings_format(
    secret_file, monkeypatch
):
    output = dev_setup()

    assert f"generated into {secret_file}" in output
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    [secret] = secret_file.read_text().split()
    monkeypatch.setenv("MINIVOICE_WEBHOOK_SECRET", secret)
    assert envwebhooksecrets("MINIVOICE_WEBHOOK_SECRET") == [secret]
    # And it signs and verifies, as the app will once settings read the file.
    body = b'{"event": "recording.started"}'
    headers = signed_headers(body=body, secret=secret, webhook_id="msg_1")
    verify_signature(body=body, headers=headers, secrets=[secret])


@pytest.mark.django_db
def test_each_laptop_gets_its_own_secret(secret_file):
    dev_setup()
    first = secret_file.read_text()
    secret_file.unlink()
    dev_setup()
    assert secret_file.read_text() != first


@pytest.mark.django_db
def test_generated_secret_is_kept_on_the_next_run(secret_file, settings):
    dev_setup()
    generated = secret_file.read_text()
    # What settings.py does on the next start with DEBUG on.
    settings.MINIVOICE_WEBHOOK_SECRETS = generated.split()

    output = dev_setup()

    assert secret_file.read_text() == generated
    assert f"already set ({secret_file})" in output


@pytest.mark.django_db
def test_secret_from_the_environment_writes_no_file(secret_file, settings):
    settings.MINIVOICE_WEBHOOK_SECRETS = [TEST_SECRET]

    output = dev_setup()

    assert not secret_file.exists()
    assert "already set (MINIVOICE_WEBHOOK_SECRET)" in output


@pytest.mark.django_db
def test_fresh_laptop_gets_an_admin_whose_printed_password_logs_in(secret_file, client):
    output = dev_setup()

    [(username, password)] = CREDENTIALS.findall(output)
    assert username == "admin"
    admin = get_user_model().objects.get()
    assert (admin.username, admin.is_superuser, admin.is_staff) == ("admin", True, True)
    assert _signs_in(client, "admin", password)
    assert output.count(password) == 1


@pytest.mark.django_db
def test_second_run_creates_no_admin_and_prints_no_password(secret_file):
    first = dev_setup()
    [(_, password)] = CREDENTIALS.findall(first)

    second = dev_setup()

    assert get_user_model().objects.count() == 1
    assert not CREDENTIALS.search(second)
    assert password not in second
    assert "a superuser exists already" in second


@pytest.mark.django_db
def test_existing_superuser_of_another_name_is_left_alone(secret_file, django_user_model):
    django_user_model.objects.create_superuser("maria", password="hers")

    output = dev_setup()

    assert list(django_user_model.objects.values_list("username", flat=True)) == ["maria"]
    assert not CREDENTIALS.search(output)


@pytest.mark.django_db
def test_existing_non_superuser_named_admin_does_not_crash_the_command(
    secret_file, django_user_model, client
):
    # Someone made an ordinary "admin" account on this laptop: `make run` must still start,
    # that account must not be taken over, and the printed login must work.
    user = django_user_model.objects.create_user("admin", password="theirs")

    output = dev_setup()

    user.refresh_from_db()
    assert not user.is_superuser
    assert user.check_password("theirs")
    [(username, password)] = CREDENTIALS.findall(output)
    assert django_user_model.objects.get(username=username).is_superuser
    assert _signs_in(client, username, password)


def _signs_in(client, username: str, password: str) -> bool:
    """Through the admin's sign-in form, as a person does (django-axes watches it)."""
    answer = client.post("/admin/login/", {"username": username, "password": password})
    return answer.status_code == 302 and "_auth_user_id" in client.session


def _a_directory(tmp_path):
    path = tmp_path / "var" / "dev-webhook-secret"
    path.mkdir(parents=True)
    return path


def _under_a_file(tmp_path):
    (tmp_path / "var").write_text("a file where the directory should be\n")
    return tmp_path / "var" / "dev-webhook-secret"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "make_path", [_a_directory, _under_a_file], ids=["path-is-a-directory", "parent-is-a-file"]
)
def test_unwritable_secret_path_is_a_command_error_naming_it(
    secret_file, settings, tmp_path, make_path
):
    # A read-only directory would be a third case, but the suite may run as root, whom
    # permissions do not stop; these two fail for everyone.
    settings.DEV_WEBHOOK_SECRET_FILE = path = make_path(tmp_path)
    before = sorted(tmp_path.rglob("*"))

    with pytest.raises(
        CommandError, match=re.escape(f"Could not write the webhook secret to {path}")
    ):
        dev_setup()

    assert sorted(tmp_path.rglob("*")) == before
    assert not get_user_model().objects.exists()  # stopped before creating the admin


def _not_utf8(tmp_path):
    path = tmp_path / "dev-webhook-secret"
    path.write_bytes(b"\xff\xfe not a secret\n")
    return path


@pytest.mark.django_db
@pytest.mark.parametrize(
    "make_path",
    [_a_directory, _under_a_file, _not_utf8],
    ids=["path-is-a-directory", "parent-is-a-file", "file-not-utf8"],
)
def test_secret_from_the_environment_is_reported_whatever_is_at_the_file_path(
    secret_file, settings, tmp_path, make_path
):
    # settings.py reads the file only when it is a file, replacing undecodable bytes;
    # with the secret in the environment, whatever else is there must not matter.
    settings.DEV_WEBHOOK_SECRET_FILE = make_path(tmp_path)
    settings.MINIVOICE_WEBHOOK_SECRETS = [TEST_SECRET]
    before = sorted(tmp_path.rglob("*"))

    output = dev_setup()

    assert "Webhook secret: already set (MINIVOICE_WEBHOOK_SECRET)." in output
    assert sorted(tmp_path.rglob("*")) == before


# -- `make run` as a newcomer sees it -------------------------------------------------------

BASE_DIR = Path(__file__).resolve().parents[2]
SECRET_WARNING = "MINIVOICE_WEBHOOK_SECRET is not set"


@pytest.fixture
def fresh_checkout(tmp_path):
    """A copy of the checkout with no var/ yet, sharing the virtualenv."""
    checkout = tmp_path / "checkout"
    files = (
        subprocess.run(["git", "ls-files", "-z"], cwd=BASE_DIR, capture_output=True, check=True)
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, files):
        if (BASE_DIR / name).is_file():
            (checkout / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(BASE_DIR / name, checkout / name)
    (checkout / ".venv").symlink_to((BASE_DIR / ".venv").resolve())
    return checkout


def make_run(checkout: Path) -> str:
    """What `make run` prints before the server starts (the server itself is left out)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MINIVOICE_", "CELERY_"))}
    env["DATABASE_URL"] = f"sqlite:///{checkout / 'db.sqlite3'}"
    # Run from `make test`, the outer make's flags would make this one a sub-make that
    # prints "Entering/Leaving directory" around the recipe.
    for name in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"):
        env.pop(name, None)
    # -n lists the recipe; -o: the virtualenv is there already, whatever the copies' times.
    recipe = subprocess.run(
        ["make", "--no-print-directory", "-n", "-o", ".venv/.installed", "run"],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert "runserver" in recipe[-1]
    output = ""
    for line in recipe[:-1]:
        result = subprocess.run(
            line, shell=True, cwd=checkout, env=env, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stderr
        output += result.stdout + result.stderr
    return output


def test_first_make_run_warns_of_no_missing_secret_and_names_the_new_account(fresh_checkout):
    output = make_run(fresh_checkout)

    assert SECRET_WARNING not in output
    assert "Webhook secret: generated into" in output
    assert CREDENTIALS.search(output)
    assert "(sign in with the user and password above)" in output
    assert (fresh_checkout / "var" / "dev-webhook-secret").is_file()
    assert "Flow 'Main line': loaded from consent-ivr.json and published as v1" in output


def test_later_make_run_prints_no_password_and_does_not_claim_one_above(fresh_checkout):
    make_run(fresh_checkout)

    output = make_run(fresh_checkout)

    assert SECRET_WARNING not in output
    assert not CREDENTIALS.search(output)
    assert "password above" not in output
    assert "Admin:    http://127.0.0.1:8000/admin/   (sign in as your superuser)" in output
    assert "Flow 'Main line': there already, left as it is." in output


def test_secret_only_needs_no_database_and_creates_no_admin(secret_file):
    # No django_db mark: touching the database here would fail the test.
    out = StringIO()
    call_command("dev_setup", "--secret-only", stdout=out)

    assert "generated into" in out.getvalue()
    assert "Admin" not in out.getvalue()


# -- The shipped consent IVR ----------------------------------------------------------------


@pytest.mark.django_db
def test_dev_setup_loads_the_consent_ivr_published_on_its_number(secret_file):
    output = dev_setup()

    assert "Flow 'Main line': loaded from consent-ivr.json and published as v1, answering " in (
        output
    )
    flow = Flow.objects.get(name="Main line")
    assert flow.live_version.number == 1
    assert flow.live_version.document == json.loads(CONSENT_IVR.read_text())
    assert flow.live_version.document["numbers"] == ["+15550199"]
    assert Flow.objects.get(name="default").is_default  # every other number as before


def test_the_shipped_consent_ivr_is_the_issues_file():
    assert json.loads(CONSENT_IVR.read_text()) == MAIN_LINE


@pytest.mark.django_db
def test_a_second_run_leaves_the_consent_ivr_as_a_person_changed_it(secret_file):
    dev_setup()
    flow = Flow.objects.get(name="Main line")
    flow.steps.filter(name="goodbye").update(actions=[{"say": {"text": "Bye."}}, {"hangup": {}}])
    flow_publish(flow=flow)

    output = dev_setup()

    assert "Flow 'Main line': there already, left as it is." in output
    flow.refresh_from_db()
    assert flow.live_version.number == 2
    assert list(flow.versions.values_list("number", flat=True)) == [2, 1]


@pytest.mark.django_db
def test_the_consent_ivr_is_not_loaded_on_a_number_another_flow_answers(secret_file):
    flow_import(document=read_document(main_line(name="Reception", test_numbers=[])), publish=True)

    output = dev_setup()

    assert "Flow 'Main line': not loaded: numbers[0]: +15550199 is answered by flow " in output
    assert not Flow.objects.filter(name="Main line").exists()
    assert CREDENTIALS.search(output)  # the rest of the set-up went on


@pytest.mark.django_db
def test_migrate_alone_answers_as_before_with_no_consent_ivr():
    assert list(Flow.objects.values_list("name", flat=True)) == ["default"]
