from __future__ import annotations

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CallsConfig(AppConfig):
    name = "calls"
    verbose_name = "Calls"

    def ready(self) -> None:
        from calls import checks  # noqa: F401  (registers the system checks)
        from calls.roles import on_post_migrate

        # Without a sender: it must also run after recordings' permissions are made.
        post_migrate.connect(on_post_migrate, dispatch_uid="calls.roles.support_group")
