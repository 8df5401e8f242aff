"""`manage.py validate_actions FILE|-`: the app's own schema, every problem with its path."""

from __future__ import annotations

import json
import subprocess
import sys
from io import BytesIO, StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

VALID = {"actions": [{"start_recording": {}}, {"say": {"text": "Hi"}}, {"stop_recording": {}}]}
INVALID = {
    "actions": [
        {"say": {"text": ""}},
        {"type": "collect", "max_digits": 99},
        {"dance": {}},
    ]
}


def validate(*args: str, **options) -> str:
    out = StringIO()
    call_command("validate_actions", *args, stdout=out, stderr=StringIO(), **options)
    return out.getvalue()


def write(tmp_path: Path, content: bytes | dict) -> str:
    path = tmp_path / "actions.json"
    path.write_bytes(content if isinstance(content, bytes) else json.dumps(content).encode())
    return str(path)


def test_valid_payload_is_said_valid(tmp_path):
    assert "Valid: 3 action(s)." in validate(write(tmp_path, VALID))


def test_invalid_payload_prints_every_problem_with_its_path_and_fails(tmp_path):
    out = StringIO()
    with pytest.raises(CommandError, match="Invalid: 3 error") as failure:
        call_command("validate_actions", write(tmp_path, INVALID), stdout=out)

    assert failure.value.returncode == 1
    lines = out.getvalue().splitlines()
    assert "error    actions[0].say.text: must be a non-empty string" in lines
    assert "error    actions[1].max_digits: must be a whole number from 1 to 32" in lines
    assert 'error    actions[2]: unknown action "dance"' in lines


def test_warnings_alone_keep_a_payload_valid(tmp_path):
    payload = {"actions": [{"hangup": {}}, {"say": {"text": "never heard"}}]}

    output = validate(write(tmp_path, payload))

    assert 'warning  actions[1]: never runs: it comes after "hangup" at actions[0]' in output
    assert "Valid: 2 action(s), 1 warning(s)." in output


def test_dash_reads_the_payload_from_stdin():
    output = validate("-", stdin=BytesIO(json.dumps(VALID).encode()))

    assert "Valid: 3 action(s)." in output


@pytest.mark.parametrize(
    "content",
    [b"{not json", b'{"actions": [NaN]}', b"\xff\xfe", b"", b"[" * 100_000],
    ids=["broken", "nan", "not-utf8", "empty", "deep"],
)
def test_what_is_not_json_is_invalid_in_one_line(tmp_path, content):
    out = StringIO()
    with pytest.raises(CommandError, match="Invalid: the payload is not JSON") as failure:
        call_command("validate_actions", write(tmp_path, content), stdout=out)

    assert failure.value.returncode == 1
    assert out.getvalue().startswith("error  <payload>: not JSON")


@pytest.mark.parametrize(
    "payload",
    [[], "actions", {"actions": "hangup"}, {}],
    ids=["list", "string", "actions-not-a-list", "empty-object"],
)
def test_json_that_is_no_payload_is_invalid(tmp_path, payload):
    with pytest.raises(CommandError, match="Invalid") as failure:
        validate(write(tmp_path, payload))
    assert failure.value.returncode == 1


def test_file_that_cannot_be_read_is_a_usage_error(tmp_path):
    with pytest.raises(CommandError, match="Cannot read") as failure:
        validate(str(tmp_path / "missing.json"))
    assert failure.value.returncode == 2

    with pytest.raises(CommandError, match="Cannot read"):
        validate(str(tmp_path))


def test_file_over_a_mebibyte_is_refused(tmp_path):
    with pytest.raises(CommandError, match="larger than 1 MiB") as failure:
        validate(write(tmp_path, b" " * (1024 * 1024 + 1)))
    assert failure.value.returncode == 2


def test_from_a_shell_an_invalid_payload_exits_1_and_a_valid_one_0():
    def run(payload: dict) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", "validate_actions", "-"],
            input=json.dumps(payload).encode(),
            capture_output=True,
            cwd=settings.BASE_DIR,
            timeout=60,
        )

    invalid, valid = run(INVALID), run(VALID)

    assert invalid.returncode == 1
    assert b"actions[0].say.text" in invalid.stdout
    assert b"Traceback" not in invalid.stderr
    assert valid.returncode == 0
