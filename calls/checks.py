from __future__ import annotations

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register

_MESSAGE = (
    "MINIVOICE_WEBHOOK_SECRET is not set, so MiniVoice's webhooks cannot be verified "
    "and are refused with 503 until it is."
)
_HINT = "Set MINIVOICE_WEBHOOK_SECRET to the whsec_… secret from MiniVoice."


@register("minivoice")
def webhook_secret_is_set(app_configs, **kwargs) -> list[CheckMessage]:
    if settings.MINIVOICE_WEBHOOK_SECRETS:
        return []
    if settings.DEBUG:
        hint = _HINT + " On a laptop, `python manage.py dev_setup` generates one."
        return [Warning(_MESSAGE, hint=hint, id="minivoice.W001")]
    return [Error(_MESSAGE, hint=_HINT, id="minivoice.E001")]
