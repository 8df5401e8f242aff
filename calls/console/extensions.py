"""What other apps add to the console's pages, registered from their own `admin` module:
the console never imports them (recordings depends on calls, never the reverse)."""

from __future__ import annotations

from django.contrib.admin.options import InlineModelAdmin

# Inlines shown on a call's page after the console's own (recordings adds its list).
call_page_inlines: list[type[InlineModelAdmin]] = []


def call_page_inline_register(inline: type[InlineModelAdmin]) -> type[InlineModelAdmin]:
    """Show `inline` on every call's page; usable as a class decorator."""
    if inline not in call_page_inlines:
        call_page_inlines.append(inline)
    return inline
