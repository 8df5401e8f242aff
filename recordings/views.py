"""A recording's audio for staff: listened to (inline) or downloaded, behind the admin's
login and a permission each, never from a public media URL. Range requests are honoured
(206 with Content-Range), so a player can seek; Safari will not play without them.

With the audio in an S3 bucket, the view checks the same permission and answers with a
redirect to a presigned link to the object, valid for minutes: the bucket serves the
bytes and their ranges, and the app's threads are not held by a stream. Each visit to the
view signs a new link, so a page opened later never holds an expired one.

Both go on the audit trail: each download, and listening once per user and recording in
each ten-minute window (`audit.record.LISTEN_WINDOW`): a player fetches a recording in
many Range requests, and again at every seek."""

from __future__ import annotations

from collections.abc import Iterator

from django.core.exceptions import PermissionDenied
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404
from django.views import View

from audit.models import AuditEntry
from audit.record import About, audit_record, audit_record_once
from recordings import storage
from recordings.models import AudioState, Recording
from recordings.ranges import Unsatisfiable, byte_range

LISTEN_PERMISSION = "recordings.listen_recording"
DOWNLOAD_PERMISSION = "recordings.download_recording"
CHUNK_BYTES = 64 * 1024


class RecordingAudioView(View):
    """`download=False`: to listen (Support may); True: to keep (Support may not)."""

    download = False

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not request.user.has_perm(DOWNLOAD_PERMISSION if self.download else LISTEN_PERMISSION):
            raise PermissionDenied
        recording = get_object_or_404(Recording.objects.select_related("call"), pk=pk)
        if recording.audio_state != AudioState.STORED or not recording.audio_key:
            state = recording.get_audio_state_display().lower()
            return _not_here(f"This recording's audio is not stored here ({state}).")
        _audit(request, recording, download=self.download)
        try:
            link = storage.audio_link(recording.audio_key, attachment=self.download)
            if link:  # S3: the bucket serves the bytes (and their ranges) for a few minutes
                return HttpResponseRedirect(link)
            return audio_response(request, recording, attachment=self.download)
        except OSError:  # gone from storage behind our back: say so, never a 500
            return _not_here("This recording's audio is missing from storage.")


def _audit(request: HttpRequest, recording: Recording, *, download: bool) -> None:
    about = About.row(
        recording, call_id=recording.call.minivoice_id, detail=recording.minivoice_id or ""
    )
    if download:
        audit_record(actor=request, action=AuditEntry.Action.RECORDING_DOWNLOADED, about=about)
    else:
        audit_record_once(actor=request, action=AuditEntry.Action.RECORDING_LISTENED, about=about)


def _not_here(message: str) -> HttpResponse:
    return HttpResponse(message, status=404, content_type="text/plain; charset=utf-8")


def audio_response(request: HttpRequest, recording: Recording, *, attachment: bool) -> HttpResponse:
    audio = storage.audio_open(recording.audio_key)
    total = audio.size
    try:
        span = byte_range(request.headers.get("Range", ""), total)
    except Unsatisfiable:
        audio.close()
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{total}"
        return response
    start, end = span or (0, total - 1)
    response = StreamingHttpResponse(
        _chunks(audio, start, end - start + 1),
        status=206 if span else 200,
        content_type=storage.content_type(recording.audio_key),
    )
    response["Content-Length"] = str(end - start + 1)
    response["Accept-Ranges"] = "bytes"
    if span:
        response["Content-Range"] = f"bytes {start}-{end}/{total}"
    name = storage.audio_filename(recording.audio_key)
    response["Content-Disposition"] = (
        f'{"attachment" if attachment else "inline"}; filename="{name}"'
    )
    return response


def _chunks(audio, start: int, length: int) -> Iterator[bytes]:
    """The bytes asked for, a chunk at a time; the file is closed when the response is."""
    try:
        audio.seek(start)
        while length > 0 and (chunk := audio.read(min(CHUNK_BYTES, length))):
            length -= len(chunk)
            yield chunk
    finally:
        audio.close()
