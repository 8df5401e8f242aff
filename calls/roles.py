"""The Support group (reads every call, log and flow in the admin, listens to recordings,
changes nothing, sees phone numbers masked), the Support leads group (Support, plus phone
numbers in full and the audit trail) and the Flow editors group (edits and publishes
flows).

Made after every `migrate` (permissions exist only once their app has migrated), so a new
instance has it without a manual step, and a model added later joins it on the next
`migrate`.
"""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission

SUPPORT_GROUP = "Support"
# What support reads. Replaying events is a separate permission it does not get.
SUPPORT_CAN_VIEW = {
    "calls": [
        "call",
        "answerexchange",
        "webhookevent",
        "callproblem",
        "flow",
        "flowstep",
        "flowversion",
    ],
    "recordings": ["recording"],
}
# What support may do besides reading: listen (downloading and fetching again are not).
SUPPORT_CAN_ALSO = {"recordings": ["listen_recording"]}
# Support leads read what Support reads, see phone numbers in full (calls.privacy) and
# read the audit trail (who listened, exported, saw numbers in full).
SUPPORT_LEADS_GROUP = "Support leads"
SUPPORT_LEADS_CAN_ALSO = {"calls": ["view_full_numbers"], "audit": ["view_auditentry"]}
# Flow editors edit drafts and publish (or roll back); versions are never edited by anyone.
FLOW_EDITORS_GROUP = "Flow editors"
FLOW_EDITORS_CAN = [
    "view_flow",
    "add_flow",
    "change_flow",
    "delete_flow",
    "publish_flow",
    "view_flowstep",
    "add_flowstep",
    "change_flowstep",
    "delete_flowstep",
    "view_flowversion",
]


def support_group_ensure(*, using: str = "default") -> Group:
    """Create the group if needed and give it exactly the view permissions that exist."""
    return _group_ensure(SUPPORT_GROUP, _support_permissions(), using=using)


def support_leads_group_ensure(*, using: str = "default") -> Group:
    """Support's permissions, and numbers in full and the audit trail: exactly those."""
    also = [
        (app, codename)
        for app, codenames in SUPPORT_LEADS_CAN_ALSO.items()
        for codename in codenames
    ]
    return _group_ensure(SUPPORT_LEADS_GROUP, _support_permissions() + also, using=using)


def _support_permissions() -> list[tuple[str, str]]:
    return [
        (app, f"view_{model}") for app, models in SUPPORT_CAN_VIEW.items() for model in models
    ] + [(app, codename) for app, codenames in SUPPORT_CAN_ALSO.items() for codename in codenames]


def _group_ensure(name: str, wanted: list[tuple[str, str]], *, using: str) -> Group:
    group, _ = Group.objects.using(using).get_or_create(name=name)
    permissions = [
        permission
        for permission in Permission.objects.using(using)
        .select_related("content_type")
        .filter(content_type__app_label__in={app for app, _ in wanted})
        if (permission.content_type.app_label, permission.codename) in wanted
    ]
    group.permissions.set(permissions)
    return group


def flow_editors_group_ensure(*, using: str = "default") -> Group:
    """Create the group if needed and give it exactly the flow permissions."""
    group, _ = Group.objects.using(using).get_or_create(name=FLOW_EDITORS_GROUP)
    group.permissions.set(
        Permission.objects.using(using).filter(
            content_type__app_label="calls", codename__in=FLOW_EDITORS_CAN
        )
    )
    return group


def on_post_migrate(sender, *, using: str = "default", **kwargs) -> None:
    """Runs once per app after migrate; acting for ours is enough, and repeating is harmless."""
    if sender.label in {*SUPPORT_CAN_VIEW, *SUPPORT_LEADS_CAN_ALSO}:
        support_group_ensure(using=using)
        support_leads_group_ensure(using=using)
        flow_editors_group_ensure(using=using)
