"""Every operator's command explains itself: a help text, and help on every argument."""

from __future__ import annotations

import subprocess
import sys

import pytest
from django.conf import settings
from django.core.management import get_commands, load_command_class

COMMANDS = [
    "simulate_call",
    "minivoice_emulator",
    "replay_events",
    "reconcile",
    "prune_events",
    "prune_audit",
    "validate_actions",
    "send_webhook",
    "call_timeline",
    "dev_setup",
    "flows",
    "add_totp_device",
]
# Django's own options (--verbosity, --settings…) come with their help.
DJANGO_OPTIONS = {"help", "version", "verbosity", "settings", "pythonpath", "traceback"}
DJANGO_OPTIONS |= {"no_color", "force_color", "skip_checks"}


@pytest.mark.parametrize("name", COMMANDS)
def test_command_and_each_of_its_arguments_have_help(name):
    command = load_command_class(get_commands()[name], name)
    parser = command.create_parser("manage.py", name)

    assert len(command.help) > 40
    for action in parser._actions:
        if action.dest not in DJANGO_OPTIONS:
            assert action.help, f"{name}: {action.dest} has no help"


@pytest.mark.parametrize("name", COMMANDS)
def test_help_is_printed_from_a_shell(name):
    result = subprocess.run(
        [sys.executable, "manage.py", name, "--help"],
        capture_output=True,
        text=True,
        cwd=settings.BASE_DIR,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert "usage: manage.py" in result.stdout
