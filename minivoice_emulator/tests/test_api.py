"""MiniVoice's REST API as the emulator serves it, over real HTTP on loopback."""

from __future__ import annotations

import http.client
import io
import json
import threading
import wave
from datetime import UTC, datetime, timedelta

import pytest

from minivoice_emulator import api, voice
from minivoice_emulator.runner import PlayedCall, PlayedRecording, Spoken

KEY = "test-key"


START = datetime(2026, 5, 29, 12, 0, tzinfo=UTC)
GREETING = "Thank you for calling"


def played_call() -> PlayedCall:
    start = START
    played = PlayedCall(call_id="call_1", scenario="happy", started_at=start)
    played.final_status, played.ended_at, played.duration_seconds = "completed", start, 9
    played.recordings = {
        "rec_ok": PlayedRecording(
            "rec_ok",
            "completed",
            started_at=start,
            stopped_at=start + timedelta(seconds=6),
            duration_seconds=7,
        ),
        "rec_bad": PlayedRecording("rec_bad", "failed", reason="no media"),
    }
    # Said 2 s into the recording, and once after it stopped (which it never hears).
    played.spoken = [
        Spoken(start + timedelta(seconds=2), GREETING, "prompt"),
        Spoken(start + timedelta(seconds=8), "goodbye", "caller"),
    ]
    return played


@pytest.fixture
def serve():
    servers = []

    def start(**options) -> api.EmulatorServer:
        state = api.EmulatorState(api_key=KEY, **options)
        server = api.serve(host="127.0.0.1", port=0, state=state)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        api.register_call(api_url=server.url, api_key=KEY, played=played_call())
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def get(server, path: str, *, key: str | None = KEY, timeout: float = 10, **headers):
    connection = http.client.HTTPConnection(*server.server_address[:2], timeout=timeout)
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()
    return response, response.read()


def test_recording_metadata_describes_the_played_recording(serve):
    server = serve()

    response, body = get(server, "/v1/recordings/rec_ok")

    assert response.status == 200
    metadata = json.loads(body)
    assert metadata == {
        "id": "rec_ok",
        "call_id": "call_1",
        "status": "completed",
        "duration_seconds": 7,
        "format": "wav",
        "size_bytes": 44 + 7 * 16000,
        "media_url": f"{server.url}/v1/recordings/rec_ok/media",
        "created_at": "2026-05-29T12:00:00Z",
        "completed_at": None,
    }


def test_media_is_a_wav_of_the_recordings_length(serve):
    server = serve()

    response, body = get(server, "/v1/recordings/rec_ok/media")

    assert response.status == 200
    assert response.getheader("Content-Type") == "audio/wav"
    with wave.open(io.BytesIO(body)) as audio:
        assert (audio.getnchannels(), audio.getframerate()) == (1, 8000)
        assert audio.getnframes() / audio.getframerate() == 7
    assert len(body) == json.loads(get(server, "/v1/recordings/rec_ok")[1])["size_bytes"]


@pytest.mark.parametrize(
    ("header", "status", "content_range", "length"),
    [
        ("bytes=0-9", 206, "bytes 0-9/112044", 10),
        ("bytes=112000-", 206, "bytes 112000-112043/112044", 44),
        ("bytes=-4", 206, "bytes 112040-112043/112044", 4),
        ("bytes=100000-99999999", 206, "bytes 100000-112043/112044", 12044),
        ("bytes=99999999-", 416, "bytes */112044", 0),
        ("bytes=9-1", 416, "bytes */112044", 0),
        ("pages=1-2", 416, "bytes */112044", 0),
    ],
)
def test_range_requests_get_the_part_asked_for(serve, header, status, content_range, length):
    response, body = get(serve(), "/v1/recordings/rec_ok/media", Range=header)

    assert response.status == status
    assert response.getheader("Content-Range") == content_range
    assert len(body) == length


def test_range_bytes_are_the_same_bytes_as_the_whole_file(serve):
    server = serve()
    _, whole = get(server, "/v1/recordings/rec_ok/media")

    _, part = get(server, "/v1/recordings/rec_ok/media", Range="bytes=100-199")

    assert part == whole[100:200]


def test_call_data_is_the_played_calls_end(serve):
    response, body = get(serve(), "/v1/calls/call_1")

    assert response.status == 200
    call = json.loads(body)
    assert (call["id"], call["status"], call["duration_seconds"]) == ("call_1", "completed", 9)


def test_failed_recording_has_metadata_but_no_media(serve):
    server = serve()

    _, body = get(server, "/v1/recordings/rec_bad")
    response, media = get(server, "/v1/recordings/rec_bad/media")

    assert json.loads(body)["status"] == "failed"
    assert json.loads(body)["media_url"] is None
    assert response.status == 404
    assert json.loads(media)["error"]["code"] == "no_media"


@pytest.mark.parametrize("key", [None, "wrong", ""], ids=["none", "wrong", "empty"])
@pytest.mark.parametrize("path", ["/v1/recordings/rec_ok", "/v1/recordings/rec_ok/media"])
def test_without_the_key_everything_is_401(serve, key, path):
    response, body = get(serve(), path, key=key)

    assert response.status == 401
    assert json.loads(body)["error"]["code"] == "unauthorized"


def test_basic_auth_with_the_key_is_not_bearer(serve):
    response, _ = get(serve(), "/v1/calls/call_1", key=None, Authorization=f"Basic {KEY}")

    assert response.status == 401


@pytest.mark.parametrize(
    "path", ["/v1/recordings/nope", "/v1/calls/nope", "/v2/anything", "/", "/v1/recordings/"]
)
def test_unknown_things_are_404_in_the_envelope(serve, path):
    response, body = get(serve(), path)

    assert response.status == 404
    assert json.loads(body)["error"]["code"] == "not_found"


def test_other_methods_are_405(serve):
    server = serve()
    connection = http.client.HTTPConnection(*server.server_address[:2], timeout=5)
    connection.request(
        "DELETE", "/v1/recordings/rec_ok", headers={"Authorization": f"Bearer {KEY}"}
    )

    assert connection.getresponse().status == 405


@pytest.mark.parametrize(
    "body", [b"{not json", b"[]", b'{"call": {}}', b'{"call": {"id": "c"}, "recordings": [1]}']
)
def test_a_registration_that_is_no_call_document_is_400_and_changes_nothing(serve, body):
    server = serve()
    connection = http.client.HTTPConnection(*server.server_address[:2], timeout=5)
    connection.request(
        "POST", "/_emulator/calls", body=body, headers={"Authorization": f"Bearer {KEY}"}
    )

    assert connection.getresponse().status == 400
    assert set(server.state.calls) == {"call_1"}


def test_fault_404_for_one_recording_leaves_the_others_alone(serve):
    server = serve(faults=[api.parse_fault("rec_ok=404")])

    assert get(server, "/v1/recordings/rec_ok")[0].status == 404
    assert get(server, "/v1/recordings/rec_ok/media")[0].status == 404
    assert get(server, "/v1/recordings/rec_bad")[0].status == 200


def test_fault_500_once_fails_the_first_request_then_succeeds(serve):
    server = serve(faults=[api.parse_fault("rec_ok=500-once")])

    statuses = [get(server, "/v1/recordings/rec_ok/media")[0].status for _ in range(3)]

    assert statuses == [500, 200, 200]


def test_fault_slow_answers_past_a_clients_timeout(serve):
    server = serve(faults=[api.parse_fault("rec_ok=slow")], slow_seconds=1.5)

    with pytest.raises(TimeoutError):
        get(server, "/v1/recordings/rec_ok", timeout=0.3)
    assert get(server, "/v1/recordings/rec_ok", timeout=5)[0].status == 200


def test_fault_truncated_sends_half_of_what_content_length_promised(serve):
    server = serve(faults=[api.parse_fault("rec_ok=truncated")])

    with pytest.raises(http.client.IncompleteRead) as short:
        get(server, "/v1/recordings/rec_ok/media")

    assert len(short.value.partial) == (44 + 7 * 16000) // 2


def test_fault_stall_once_stops_the_first_download_halfway_then_sends_the_rest(serve):
    server = serve(faults=[api.parse_fault("rec_ok=stall-once")], slow_seconds=1.5)
    total = 44 + 7 * 16000
    connection = http.client.HTTPConnection(*server.server_address[:2], timeout=0.5)
    connection.request(
        "GET", "/v1/recordings/rec_ok/media", headers={"Authorization": f"Bearer {KEY}"}
    )
    response = connection.getresponse()

    assert response.headers["Content-Length"] == str(total)
    first_half = response.read(total // 2)
    with pytest.raises(TimeoutError):  # nothing more within the client's timeout
        response.read(1)
    again, media = get(server, "/v1/recordings/rec_ok/media")  # the next ones are whole

    assert len(first_half) == total // 2
    assert (again.status, len(media)) == (200, total)
    assert media[: total // 2] == first_half


def test_fault_size_mismatch_makes_metadata_disagree_with_the_media(serve):
    server = serve(faults=[api.parse_fault("rec_ok=size-mismatch")])

    size = json.loads(get(server, "/v1/recordings/rec_ok")[1])["size_bytes"]
    _, media = get(server, "/v1/recordings/rec_ok/media")

    assert size != len(media)


def test_fault_at_a_rate_of_100_percent_hits_every_recording(serve):
    server = serve(faults=[api.parse_fault("100%=404")])

    assert get(server, "/v1/recordings/rec_ok")[0].status == 404
    assert get(server, "/v1/recordings/rec_bad")[0].status == 404


def test_fault_at_a_rate_of_0_percent_hits_none(serve):
    server = serve(faults=[api.parse_fault("0%=404")])

    assert get(server, "/v1/recordings/rec_ok")[0].status == 200


@pytest.mark.parametrize(
    "spec", ["rec_ok", "rec_ok=418", "=404", "150%=404", "x%=404", "-5%=slow", "rec\nx=404"]
)
def test_a_fault_that_makes_no_sense_is_refused(spec):
    with pytest.raises(ValueError, match="--fault"):
        api.parse_fault(spec)


def _loudness(frames: bytes) -> int:
    """The largest sample's size in 16-bit PCM frames."""
    samples = memoryview(frames).cast("h")
    return max((abs(sample) for sample in samples), default=0)


def test_media_speaks_what_was_said_where_it_was_said_and_is_silent_elsewhere(serve):
    server = serve()

    _, body = get(server, "/v1/recordings/rec_ok/media")

    with wave.open(io.BytesIO(body)) as audio:
        assert audio.getsampwidth() == 2
        frames = audio.readframes(audio.getnframes())
    second = 16000  # bytes of one second
    assert _loudness(frames[: 2 * second]) == 0  # nothing said yet
    assert _loudness(frames[2 * second : 3 * second]) > 1000  # the greeting
    assert _loudness(frames[6 * second :]) == 0  # the caller's goodbye came after the stop


@pytest.mark.skipif(not voice.can_speak(), reason="needs espeak-ng and sox (make audio-tools)")
def test_speech_is_espeak_ng_at_a_phone_lines_rate():
    said = voice.speech(GREETING)

    # Some 0.3 s a word at 8,000 16-bit samples a second: neither a tone nor CD audio.
    assert 0.8 < len(said) / 16000 < 2.5
    assert voice.speech(GREETING, "caller") != said


@pytest.mark.skipif(not voice.can_speak(), reason="needs espeak-ng and sox (make audio-tools)")
def test_the_same_words_make_the_same_bytes_every_time():
    # Not from the cache: a recording's audio, and its SHA-256, must not depend on which
    # thread first made its words.
    made = {voice._spoken(GREETING, "prompt") for _ in range(3)}

    assert len(made) == 1


def test_registration_keeps_only_the_well_formed_words_heard(serve):
    server = serve()
    document = {
        "call": {"id": "call_2"},
        "recordings": [
            {
                "id": "rec_2",
                "status": "completed",
                "duration_seconds": 3,
                "spoken": [
                    {"offset_seconds": 1, "text": "kept", "speaker": "caller"},
                    {"offset_seconds": -1, "text": "before the start"},
                    {"offset_seconds": "soon", "text": "not a number"},
                    {"offset_seconds": 1, "text": 42},
                    "not an object",
                    {"offset_seconds": 2, "text": "who?", "speaker": "narrator"},
                ],
            }
        ],
    }
    server.state.register(document)

    assert server.state.recordings["rec_2"]["spoken"] == [
        {"offset_seconds": 1.0, "text": "kept", "speaker": "caller"},
        {"offset_seconds": 2.0, "text": "who?", "speaker": "prompt"},
    ]


def test_fault_not_audio_serves_as_many_bytes_as_promised_that_are_no_wav(serve):
    server = serve(faults=[api.parse_fault("rec_ok=not-audio")])

    size = json.loads(get(server, "/v1/recordings/rec_ok")[1])["size_bytes"]
    response, media = get(server, "/v1/recordings/rec_ok/media")

    assert response.status == 200
    assert len(media) == size
    with pytest.raises(wave.Error), wave.open(io.BytesIO(media)):
        pass
