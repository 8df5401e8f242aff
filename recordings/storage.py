"""Where a recording's audio is kept: Django's default storage (`STORAGES["default"]`:
files under MEDIA_ROOT, or an S3-compatible bucket), under a key derived from the
recording's id alone, so a retry replaces its own file and never anyone else's.

A download goes to a local temporary file first, in chunks, hashed and counted as it
comes (never whole in memory); only a complete download whose size is checked is saved to
storage, and a save that fails is deleted again. So storage never holds half a file.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Protocol

from django.core.files import File
from django.core.files.storage import default_storage

from calls.minivoice_api import FetchError

CHUNK_BYTES = 64 * 1024
PREFIX = "recordings"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
EXTENSIONS = {"wav": "wav", "mp3": "mp3", "ogg": "ogg", "flac": "flac"}
CONTENT_TYPES = {
    "wav": "audio/wav",
    "mp3": "audio/mpeg",
    "ogg": "audio/ogg",
    "flac": "audio/flac",
    "audio": "application/octet-stream",
}


class Readable(Protocol):
    def read(self, size: int) -> bytes: ...


@dataclass(frozen=True)
class Spooled:
    file: IO[bytes]
    size_bytes: int
    sha256: str


def audio_key(recording_id: str, media_format: str) -> str:
    """`recordings/ab/<readable id>-<hash of the id>.wav`: the same id always gives the
    same key, two ids never do (the hash tells apart ids that read alike once cleaned)."""
    digest = hashlib.sha256(recording_id.encode()).hexdigest()
    readable = _UNSAFE.sub("_", recording_id)[:80].strip("._") or "recording"
    extension = EXTENSIONS.get(media_format.lower(), "audio")
    return f"{PREFIX}/{digest[:2]}/{readable}-{digest[:16]}.{extension}"


def content_type(key: str) -> str:
    return CONTENT_TYPES.get(key.rsplit(".", 1)[-1], "application/octet-stream")


@contextlib.contextmanager
def spooled(source: Readable, *, expected_size: int | None, limit: int) -> Iterator[Spooled]:
    """The whole of `source` in a local temporary file, with its size and SHA-256;
    FetchError (retryable) if it is not the size promised, or larger than `limit`."""
    digest, size = hashlib.sha256(), 0
    with tempfile.TemporaryFile(prefix="recording-") as spool:
        while chunk := source.read(CHUNK_BYTES):
            size += len(chunk)
            if size > limit:
                raise FetchError(
                    f"The audio is larger than MINIVOICE_RECORDING_MAX_BYTES ({limit} bytes).",
                    retryable=False,
                )
            digest.update(chunk)
            spool.write(chunk)
        if expected_size is not None and size != expected_size:
            raise FetchError(
                f"MiniVoice said the audio is {expected_size} bytes, but sent {size}.",
                retryable=True,
            )
        spool.seek(0)
        yield Spooled(file=spool, size_bytes=size, sha256=digest.hexdigest())


def audio_save(*, key: str, spooled_audio: Spooled) -> str:
    """Save the checked audio under `key`, replacing an earlier try's; the key it got."""
    try:
        if default_storage.exists(key):
            default_storage.delete(key)
        return default_storage.save(key, File(spooled_audio.file, name=key))
    except Exception as exc:
        # Half a file must not stay behind for anyone to serve.
        with contextlib.suppress(Exception):
            default_storage.delete(key)
        raise FetchError(f"Could not write the audio to storage: {exc}.", retryable=True) from exc


def audio_link(key: str, *, attachment: bool) -> str | None:
    """A short-lived signed link to the audio straight from the bucket, when storage signs
    its links (S3 with `querystring_auth`: the bucket answers Range requests itself); None
    where the app must serve the bytes (files under MEDIA_ROOT are never public).
    FileNotFoundError if the audio is not in storage."""
    if not getattr(default_storage, "querystring_auth", False):
        return None
    if not default_storage.exists(key):  # say so here, not as the bucket's XML in a player
        raise FileNotFoundError(key)
    disposition = f'{"attachment" if attachment else "inline"}; filename="{audio_filename(key)}"'
    return default_storage.url(
        key,
        parameters={
            "ResponseContentDisposition": disposition,
            "ResponseContentType": content_type(key),
        },
    )


def audio_filename(key: str) -> str:
    return key.rsplit("/", 1)[-1]


def audio_open(key: str) -> IO[bytes]:
    return default_storage.open(key, "rb")


def audio_delete(key: str) -> None:
    if key:
        default_storage.delete(key)
