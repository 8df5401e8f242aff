from __future__ import annotations

from django.apps import AppConfig
from django.db.models.signals import m2m_changed


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit trail"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Imported once the app registry is ready, as Django asks of ready(): both load
        # models.
        from django.contrib.auth import get_user_model  # noqa: PLC0415

        from audit.users import on_groups_changed  # noqa: PLC0415

        # Every change to a user's groups, wherever it is made (the admin, a shell, a
        # command): who may see numbers in full is decided by the groups.
        m2m_changed.connect(
            on_groups_changed,
            sender=get_user_model().groups.through,
            dispatch_uid="audit.users.groups_changed",
        )
