"""The OpenAPI document: committed as the code generates it, valid OpenAPI 3.1, served at
/api/schema/ (the console's part to staff only) and rendered at /api/docs/ from our own
static files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.test import Client
from openapi_spec_validator import OpenAPIV31SpecValidator, validate

from calls.tests.console_data import logged_in, support_member

SCHEMA_FILE = settings.BASE_DIR / "docs" / "openapi.yaml"
MINIVOICE_PATHS = {"/minivoice/answer/", "/minivoice/webhooks/"}
CONSOLE_PATHS = {"/admin/calls/call/{id}/timeline.json", "/admin/calls/call/{id}/live/"}


def committed() -> dict:
    return yaml.safe_load(SCHEMA_FILE.read_text())


def test_the_committed_document_is_what_the_code_generates(tmp_path: Path):
    fresh = tmp_path / "openapi.yaml"
    # --fail-on-warn: a view whose shape drf-spectacular had to guess fails here.
    call_command("spectacular", "--file", str(fresh), "--validate", "--fail-on-warn")

    assert fresh.read_text() == SCHEMA_FILE.read_text(), (
        "docs/openapi.yaml is out of date: run `make schema` and commit it"
    )


def test_the_committed_document_is_valid_openapi_3_1():
    document = committed()

    assert document["openapi"] == "3.1.0"
    validate(document, cls=OpenAPIV31SpecValidator)
    assert set(document["paths"]) == MINIVOICE_PATHS | CONSOLE_PATHS


def _refusal_codes(operation: dict) -> set[str]:
    return {
        code
        for response in operation["responses"].values()
        for content in response.get("content", {}).values()
        for code in content["schema"]
        .get("properties", {})
        .get("error", {})
        .get("properties", {})
        .get("code", {})
        .get("enum", [])
    }


# The refusals the code can give MiniVoice: ApiError(code=…) and MalformedRequest("…").
_RAISED = re.compile(r'(?:code="|MalformedRequest\(\s*")([a-z_]+)"')


def test_every_refusal_the_code_gives_minivoice_is_documented():
    sources = [*(settings.BASE_DIR / "calls" / "intake").glob("*.py")]
    sources.append(settings.BASE_DIR / "calls" / "protocol" / "contract.py")
    raised = {code for path in sources for code in _RAISED.findall(path.read_text())}
    raised.add("internal_error")  # calls.intake.errors: an unexpected crash
    paths = committed()["paths"]
    documented = {
        code for path in MINIVOICE_PATHS for op in paths[path].values()
        for code in _refusal_codes(op)
    }  # fmt: skip

    assert {"invalid_signature", "missing_call_id", "not_configured"} <= raised
    assert raised == documented


@pytest.mark.django_db
def test_anyone_reads_the_document_of_minivoices_doors():
    response = Client().get("/api/schema/")

    assert response.status_code == 200
    document = yaml.safe_load(response.content)
    validate(document, cls=OpenAPIV31SpecValidator)
    assert set(document["paths"]) == MINIVOICE_PATHS


@pytest.mark.django_db
def test_staff_read_the_whole_document_as_committed():
    response = logged_in(support_member()).get("/api/schema/", {"format": "json"})

    assert response.status_code == 200
    assert response.json() == committed()


@pytest.mark.django_db
def test_the_docs_page_serves_swagger_ui_from_our_own_static_files():
    client = Client()
    page = client.get("/api/docs/").content.decode()
    sources = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', page)

    static_prefix = settings.STATIC_URL  # "/static/"
    static = [source for source in sources if source.startswith(static_prefix)]

    assert all(source.startswith("/") and not source.startswith("//") for source in sources)
    assert len(static) >= 3, sources  # its CSS, its bundle, its preset: no CDN
    for source in static:
        assert finders.find(source.removeprefix(static_prefix)), source
    assert "<script>" not in page  # the set-up script is a file too (a CSP allows it)
    script = client.get("/api/docs/", {"script": ""})
    assert script.status_code == 200
    assert "/api/schema/" in script.content.decode()
