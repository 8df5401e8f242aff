"""The masking of phone numbers (calls.privacy): one number, numbers in free text, in JSON
data and said aloud in a transcript; and who sees them in full."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from calls.privacy import Shown, mask_data, mask_number, mask_said, mask_text, sees_full_numbers
from calls.roles import SUPPORT_GROUP, SUPPORT_LEADS_GROUP


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("+15550100", "+1•••••0100"),  # the issue's own example
        ("+14155550123", "+1•••••0123"),
        ("+442071838750", "+44•••••8750"),
        ("+35312345678", "+353•••••5678"),
        ("+79161234567", "+7•••••4567"),
        ("+1 (415) 555-0123", "+1•••••0123"),
        ("14155550123", "•••••0123"),  # no +: no country code can be told
        ("555010", "•••••010"),  # short: at most half its digits
        ("1234", "•••••34"),
        ("sip:alice@pbx.example", "sip:•••••@pbx.example"),
        ("sip:+14155550123@pbx.example", "sip:+1•••••0123@pbx.example"),
        ("anonymous", "anonymous"),
    ],
)
def test_a_number_keeps_its_plus_country_code_and_last_four_digits(number, masked):
    assert mask_number(number) == masked


def test_the_mask_does_not_tell_a_numbers_length():
    assert mask_number("+15550100").count("•") == mask_number("+14155550123").count("•") == 5


def test_free_text_masks_numbers_with_a_plus_encoded_or_not_and_leaves_other_digits():
    text = (
        "call_id=c1&from=%2B14155550123&to=14155550199 "
        "+14155550123 called at 2026-05-29 12:00:03 UTC, +12.3 s, timestamp 1780000000"
    )

    assert mask_text(text) == (
        "call_id=c1&from=+1•••••0123&to=•••••0199 "
        "+1•••••0123 called at 2026-05-29 12:00:03 UTC, +12.3 s, timestamp 1780000000"
    )


def test_free_text_masks_the_numbers_it_is_known_to_be_about_in_any_shape():
    assert mask_text('"from": "14155550123"', known=["14155550123"]) == '"from": "•••••0123"'
    # Not inside a longer run of digits or letters.
    assert mask_text("x914155550123 id14155550123", known=["14155550123"]) == (
        "x914155550123 id14155550123"
    )


def test_text_masks_never_put_markup_into_escaped_html():
    hostile = "from=1234567%3Cscript%3E&to=sip:1234567@%3Cb%3E"

    assert mask_text(hostile, known=["1234567<script>", "sip:1234567@<b>"]) == hostile


def test_a_transcript_masks_digits_said_aloud_but_not_short_runs_or_masked_cards():
    said = "Call me on (415) 555-0123 or 555 0199, card ####-####-####-####, in 2024."

    assert mask_said(said) == (
        "Call me on •••••0123 or •••••0199, card ####-####-####-####, in 2024."
    )


def test_data_masks_phone_keys_strings_and_transcripts_and_leaves_the_rest():
    document = {
        "call": {"from": "14155550123", "to": "sip:desk@pbx.example", "status": "completed"},
        "test_numbers": ["+14155550177", "911"],
        "payload": {"data": {"note": "transferred to +14155550188"}},
        "transcript_segments": [{"start_seconds": 1.5, "text": "it is 415 555 0123"}],
        "created_at": "2026-05-29T12:00:00Z",
        "duration_ms": 12.3456789,
    }

    assert mask_data(document) == {
        "call": {"from": "•••••0123", "to": "sip:•••••@pbx.example", "status": "completed"},
        "test_numbers": ["+1•••••0177", "911"],
        "payload": {"data": {"note": "transferred to +1•••••0188"}},
        "transcript_segments": [{"start_seconds": 1.5, "text": "it is •••••0123"}],
        "created_at": "2026-05-29T12:00:00Z",
        "duration_ms": 12.3456789,
    }


def test_a_reader_who_sees_numbers_in_full_gets_everything_unchanged():
    full = Shown(full=True, known=("14155550123",))
    data = {"from": "+14155550123"}

    assert full.number("+14155550123") == "+14155550123"
    assert full.text("14155550123 called") == "14155550123 called"
    assert full.said("415 555 0123") == "415 555 0123"
    assert full.data(data) is data


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("groups", "superuser", "full"),
    [
        ([SUPPORT_GROUP], False, False),
        ([SUPPORT_LEADS_GROUP], False, True),
        ([SUPPORT_GROUP, SUPPORT_LEADS_GROUP], False, True),
        ([], True, True),
        ([], False, False),
    ],
    ids=["support", "lead", "both", "superuser", "staff-only"],
)
def test_support_leads_and_superusers_see_numbers_in_full_support_does_not(groups, superuser, full):
    user = get_user_model().objects.create_user(
        "reader", password="x", is_staff=True, is_superuser=superuser
    )
    user.groups.set(Group.objects.filter(name__in=groups))

    assert sees_full_numbers(get_user_model().objects.get(pk=user.pk)) is full
