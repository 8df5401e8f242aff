"""The OpenAPI declarations of MiniVoice's two doors, read by `extend_schema` in views.py.

The views read their own bodies (`calls.intake.inbound`, `calls.protocol.contract`), so no
serializer describes them: each shape is written out here as JSON Schema, from the same
constants the code reads (the actions from `calls.protocol.actions.ACTION_SPECS`, the
limits from `calls.protocol.contract`). drf-spectacular builds the document from them
(`/api/schema/`, `docs/openapi.yaml`); schemathesis holds the views to it.

Three modules: `shapes` (named schemas, the error envelope), `bodies` (what each door
reads and the payload it answers with), `responses` (every answer by status, and the
signature headers).
"""

from __future__ import annotations

from calls.intake.schema.bodies import (
    ANSWER_GET_QUERY,
    ANSWER_QUERY,
    CALL_ID,
    ActionPayload,
    AnswerForm,
    AnswerRequest,
    WebhookEvent,
)
from calls.intake.schema.responses import (
    ANSWER_GET_RESPONSES,
    ANSWER_RESPONSES,
    WEBHOOK_RESPONSES,
    signature_headers,
)
from calls.intake.schema.shapes import (
    DATE_TIME,
    BodyRequired,
    Documented,
    envelope,
    nullable,
    refusal,
)

__all__ = [
    "ANSWER_GET_QUERY",
    "ANSWER_GET_RESPONSES",
    "ANSWER_QUERY",
    "ANSWER_RESPONSES",
    "CALL_ID",
    "DATE_TIME",
    "WEBHOOK_RESPONSES",
    "ActionPayload",
    "AnswerForm",
    "AnswerRequest",
    "BodyRequired",
    "Documented",
    "WebhookEvent",
    "envelope",
    "nullable",
    "refusal",
    "signature_headers",
]
