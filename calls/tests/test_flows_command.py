"""`manage.py flows`: flows as files (export, import, check), every bad file refused in
plain words with its paths, and nothing stored from a file that has errors."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

from calls.models import Flow, FlowVersion
from calls.tests.flow_data import main_line
from calls.tests.test_call_timeline_command import manage

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("flows", *args, stdout=out)
    return out.getvalue()


def refused(*args: str) -> tuple[CommandError, str]:
    out = io.StringIO()
    with pytest.raises(CommandError) as error:
        call_command("flows", *args, stdout=out)
    return error.value, out.getvalue()


def a_file(tmp_path, document: object, name: str = "flow.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(document))
    return str(path)


def test_import_with_publish_makes_the_file_live(tmp_path):
    out = run("import", a_file(tmp_path, main_line()), "--publish")

    assert "New flow 'Main line': published as v1." in out
    flow = Flow.objects.get(name="Main line")
    assert flow.live_version.number == 1
    assert flow.live_version.document == main_line()
    assert list(flow.steps.values_list("name", flat=True)) == list(main_line()["steps"])


def test_import_without_publish_saves_a_draft_only(tmp_path):
    out = run("import", a_file(tmp_path, main_line()))

    assert "saved as its draft" in out
    flow = Flow.objects.get(name="Main line")
    assert flow.live_version is None
    assert not flow.versions.exists()


def test_export_prints_the_document_import_took(tmp_path):
    run("import", a_file(tmp_path, main_line()), "--publish")

    assert json.loads(run("export", "Main line")) == main_line()
    assert json.loads(run("export", "Main line", "--live")) == main_line()
    assert [d["name"] for d in json.loads(run("export", "--all"))] == ["default", "Main line"]


def test_an_exported_file_imports_again_as_the_next_version(tmp_path):
    run("import", a_file(tmp_path, main_line()), "--publish")
    exported = a_file(tmp_path, json.loads(run("export", "Main line")), "again.json")

    run("import", exported, "--publish")

    assert Flow.objects.get(name="Main line").live_version.number == 2


def test_check_of_a_good_file_says_valid(tmp_path):
    assert "Valid: 1 flow(s)" in run("check", a_file(tmp_path, main_line()))


def test_check_exits_1_with_every_error_and_its_path(tmp_path):
    document = main_line()
    document["steps"]["greeting"]["actions"][1] = {"collect": {"max_digits": 40}}
    document["steps"]["greeting"]["actions"].insert(0, {"start_recording": {}})
    document["steps"]["greeting"]["next"]["1"] = "recrod"

    error, out = refused("check", a_file(tmp_path, document))

    assert error.returncode == 1
    assert (
        "error    steps.greeting.actions[2].collect.max_digits: must be a whole number from 1 to 32"
        in out
    )
    assert "error    steps.greeting.next.1: there is no step named 'recrod'" in out
    assert "error    steps.greeting.actions[0].start_recording: recording could start" in out


def test_import_of_a_flow_that_records_before_consent_stores_nothing(tmp_path):
    document = main_line()
    document["steps"]["greeting"]["actions"].insert(0, {"start_recording": {}})

    error, out = refused("import", a_file(tmp_path, document), "--publish")

    assert error.returncode == 1
    assert "before the caller consents" in out
    assert not Flow.objects.filter(name="Main line").exists()
    assert FlowVersion.objects.count() == 1  # the seed's


def test_a_second_default_flow_is_refused(tmp_path):
    error, out = refused("import", a_file(tmp_path, main_line(default=True)), "--publish")

    assert error.returncode == 1
    assert "error    default: flow 'default' is the default already" in out


@pytest.mark.parametrize(
    ("content", "said"),
    [
        ("{not json", "is not JSON"),
        ("[]", "an empty array"),
        ('{"name": "x"}', "steps: must be an object of named steps"),
        ('{"name": "x", "first_step": "a", "steps": {"a": {"actions": 3}}}', "steps.a.actions"),
        ("NaN", "is not JSON"),
    ],
    ids=["not-json", "empty-array", "no-steps", "actions-not-a-list", "nan"],
)
def test_a_bad_file_is_refused_in_plain_words(tmp_path, content, said):
    path = tmp_path / "bad.json"
    path.write_text(content)

    error, out = refused("import", str(path), "--publish")

    assert error.returncode == 1
    assert said in f"{error} {out}"
    assert Flow.objects.count() == 1


def test_a_missing_file_is_a_bad_argument(tmp_path):
    error, _ = refused("check", str(tmp_path / "missing.json"))

    assert error.returncode == 2
    assert "Cannot read" in str(error)


@pytest.mark.parametrize(
    ("args", "said"),
    [(("export",), "NAME or --all"), (("export", "nope"), "No flow is named 'nope'")],
)
def test_export_needs_one_existing_flow_or_all(args, said):
    error, _ = refused(*args)

    assert error.returncode == 2
    assert said in str(error)


def test_from_the_command_line_a_bad_file_exits_1_without_traceback(tmp_path):
    database = tmp_path / "db.sqlite3"
    assert manage("migrate", "--no-input", database=database).returncode == 0
    bad = tmp_path / "bad.json"
    bad.write_text('{"name": "x", "first_step": "a", "steps": {"a": {"actions": [{"say": {}}]}}}')

    result = manage("flows", "check", str(bad), database=database)

    assert result.returncode == 1
    assert "error    steps.a.actions[0].say.text: this field is required" in result.stdout
    assert "Traceback" not in result.stderr
