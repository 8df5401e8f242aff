from __future__ import annotations

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CallsConfig(AppConfig):
    name = "calls"
    verbose_name = "Calls"

    def ready(self) -> None:
        # Imported once the app registry is ready, as Django asks of ready(): both load
        # models.
        from calls import checks  # noqa: F401, PLC0415  (registers the system checks)
        from calls.flows.seed import on_post_migrate as seed_flow  # noqa: PLC0415
        from calls.roles import on_post_migrate  # noqa: PLC0415

        # Without a sender: it must also run after recordings' permissions are made.
        post_migrate.connect(on_post_migrate, dispatch_uid="calls.roles.support_group")
        # A flushed database (tests) answers as a new one does.
        post_migrate.connect(seed_flow, dispatch_uid="calls.flows.seed")
