"""The published API schema (drf-spectacular): /api/schema/ and /api/docs/."""

from __future__ import annotations

from minivoice_site.settings.base import INSTALLED_APPS, REST_FRAMEWORK

# -- The published API schema (drf-spectacular): /api/schema/ and /api/docs/ --------------
# Kept in one block. The document is generated from the declarations beside the views
# (calls/intake/views.py, calls/console/views.py); docs/openapi.yaml is its committed copy
# (`make schema`), held to the code by calls/tests/test_api_schema.py. Who reads what: the
# schema and its docs are public, like a payment provider's webhook documentation (they
# name no secret); the console's JSON endpoints appear in them only for signed-in staff,
# who alone may call them.
INSTALLED_APPS += ["drf_spectacular", "drf_spectacular_sidecar"]
REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"] = "drf_spectacular.openapi.AutoSchema"
SPECTACULAR_SETTINGS = {
    "TITLE": "MiniVoice support",
    "DESCRIPTION": (
        "What MiniVoice sends this application and what it answers: the answer_url, the "
        "webhook receiver, and the support console's JSON. Requests from MiniVoice are "
        "signed per Standard Webhooks; every refusal is the envelope "
        '`{"error": {"code": "…", "message": "…"}}`.'
    ),
    "VERSION": "1.0.0",
    "OAS_VERSION": "3.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Public to read; generated for the reader, so only staff see the console's endpoints.
    "SERVE_PUBLIC": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": ["rest_framework.authentication.SessionAuthentication"],
    # Swagger UI from the drf-spectacular-sidecar package, served as static files: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}
