"""`manage.py minivoice_emulator`: MiniVoice's REST API served by a real process."""

from __future__ import annotations

import io
import json
import socket
import urllib.request
import wave
from datetime import UTC, datetime

import pytest
from django.core.management import CommandError, call_command

from minivoice_emulator import api
from minivoice_emulator.runner import PlayedCall, PlayedRecording
from minivoice_emulator.tests.processes import environment, running
from minivoice_emulator.transport import opener


def fetch(url: str, key: str) -> bytes:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"})
    with opener.open(request, timeout=10) as response:
        return response.read()


def test_serves_a_recordings_metadata_and_a_wav_of_the_right_length():
    env = environment(MINIVOICE_API_KEY="key-from-settings")
    with running("minivoice_emulator", "--port", "0", env=env) as process:
        line = process.stdout.readline()
        assert line.startswith("MiniVoice emulator API on http://127.0.0.1:")
        url = line.split(" on ")[1].split()[0]
        start = datetime(2026, 5, 29, 12, tzinfo=UTC)
        played = PlayedCall(call_id="call_1", scenario="happy", started_at=start)
        played.recordings["rec_1"] = PlayedRecording(
            "rec_1", "completed", started_at=start, duration_seconds=12
        )
        api.register_call(api_url=url, api_key="key-from-settings", played=played)

        metadata = json.loads(fetch(f"{url}/v1/recordings/rec_1", "key-from-settings"))
        media = fetch(metadata["media_url"], "key-from-settings")

    with wave.open(io.BytesIO(media)) as audio:
        assert audio.getnframes() / audio.getframerate() == metadata["duration_seconds"] == 12
    assert len(media) == metadata["size_bytes"]
    assert process.returncode == 0  # Ctrl-C stops it cleanly
    assert "Traceback" not in process.stderr_text


def test_api_key_option_overrides_the_setting():
    env = environment(MINIVOICE_API_KEY="from-settings")
    with running("minivoice_emulator", "--port", "0", "--api-key", "from-option", env=env) as p:
        url = p.stdout.readline().split(" on ")[1].split()[0]
        request = urllib.request.Request(
            f"{url}/v1/calls/x", headers={"Authorization": "Bearer from-settings"}
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            opener.open(request, timeout=10)
        with pytest.raises(urllib.error.HTTPError) as unknown:
            fetch(f"{url}/v1/calls/x", "from-option")

    assert (refused.value.code, unknown.value.code) == (401, 404)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--port", "70000"], "--port must be from 0 to 65535"),
        (["--port", "-1"], "--port must be from 0 to 65535"),
        (["--fault", "rec_1=explode"], "--fault 'rec_1=explode': expected"),
        (["--fault", "200%=404"], "the rate must be from 0% to 100%"),
        (["--slow-seconds", "-1"], "--slow-seconds must be from 0"),
    ],
)
def test_bad_arguments_exit_2_in_one_line(args, message):
    with pytest.raises(CommandError, match=message) as failure:
        call_command("minivoice_emulator", *args)
    assert failure.value.returncode == 2


def test_no_api_key_anywhere_exits_2(settings):
    settings.MINIVOICE_API_KEY = ""
    with pytest.raises(CommandError, match="No API key") as failure:
        call_command("minivoice_emulator", "--port", "0")
    assert failure.value.returncode == 2


def test_a_port_in_use_exits_2_with_why():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(CommandError, match="the port is in use") as failure:
            call_command("minivoice_emulator", "--port", str(port), stdout=io.StringIO())
    assert failure.value.returncode == 2
