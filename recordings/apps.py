from __future__ import annotations

from django.apps import AppConfig


class RecordingsConfig(AppConfig):
    name = "recordings"
    verbose_name = "Recordings"

    def ready(self) -> None:
        # Imported here, as Django asks: models load only once the registry is ready.
        from calls.recordings_port import (  # noqa: PLC0415
            RecordingsPort,
            recordings_port_register,
        )
        from recordings.models import Recording  # noqa: PLC0415
        from recordings.search import calls_saying  # noqa: PLC0415
        from recordings.services import (  # noqa: PLC0415
            recording_apply_api,
            recording_apply_event,
            recording_id_of,
            recordings_locked,
        )

        # calls never imports this app: it reaches a call's recordings through the port.
        recordings_port_register(
            RecordingsPort(
                model=Recording,
                id_of=recording_id_of,
                lock_named=recordings_locked,
                apply_event=recording_apply_event,
                apply_api=recording_apply_api,
                calls_saying=calls_saying,
            )
        )
