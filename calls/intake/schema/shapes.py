"""The building blocks of the OpenAPI declarations: named schemas written out whole, the
nullable and date-time shapes, and the error envelope every refusal answers with."""

from __future__ import annotations

from typing import ClassVar

from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

# -- Named schemas ------------------------------------------------------------------------


class Documented(serializers.Serializer):
    """A named schema of the document, written out as JSON Schema in `json_schema`.

    Documentation only: no view parses with it. A subclass's name is the component's.
    """

    json_schema: ClassVar[dict] = {}


class DocumentedSchema(OpenApiSerializerExtension):
    """drf-spectacular's documented door for a serializer whose schema is given whole."""

    target_class = Documented
    match_subclasses = True

    def map_serializer(self, auto_schema, direction) -> dict:
        return self.target.json_schema


class BodyRequired(AutoSchema):
    """MiniVoice's views: a POST without a body is refused, so the body is required
    (drf-spectacular derives that from a serializer's required fields, and the answer
    request has none: its call id may be in either of two places)."""

    def get_operation(self, *args, **kwargs) -> dict | None:
        operation = super().get_operation(*args, **kwargs)
        if operation and "requestBody" in operation:
            operation["requestBody"]["required"] = True
        return operation


def nullable(schema: dict) -> dict:
    """`schema`, or null (OpenAPI 3.1: a list of types)."""
    return {**schema, "type": [schema["type"], "null"]}


DATE_TIME = {"type": "string", "format": "date-time"}


# -- The error envelope -------------------------------------------------------------------


def envelope(*codes: str) -> dict:
    """The error envelope with one of `codes` (calls.intake.errors.envelope)."""
    return {
        "type": "object",
        "required": ["error"],
        "additionalProperties": False,
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "additionalProperties": False,
                "properties": {
                    "code": {"type": "string", "enum": list(codes)},
                    "message": {"type": "string", "description": "A sentence for people."},
                },
            }
        },
    }


def refusal(description: str, *codes: str) -> OpenApiResponse:
    return OpenApiResponse(response=envelope(*codes), description=description)
