"""Telling a running emulator about a call `simulate_call` played."""

from __future__ import annotations

import json
import urllib.request
from urllib.error import HTTPError, URLError

from minivoice_emulator.api.state import call_document
from minivoice_emulator.runner import PlayedCall
from minivoice_emulator.transport import Unreachable, opener


def register_call(*, api_url: str, api_key: str, played: PlayedCall, timeout: float = 5) -> None:
    """Tell a running emulator about a played call; raises Unreachable or ValueError."""
    request = urllib.request.Request(
        api_url.rstrip("/") + "/_emulator/calls",
        data=json.dumps(call_document(played)).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"},
    )
    try:
        with opener.open(request, timeout=timeout):
            return
    except HTTPError as exc:
        raise ValueError(f"the emulator at {api_url} answered HTTP {exc.code}") from None
    except (URLError, OSError) as exc:
        raise Unreachable(f"{api_url}: {getattr(exc, 'reason', exc)}") from None
