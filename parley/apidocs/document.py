"""The OpenAPI document as the server really answers.

FastAPI's generator documents a 422 `{detail: [...]}` body the server never sends (its
RequestValidationError is rendered as VALIDATION_ERROR) and no other error. `build_document`
replaces those with each operation's real errors (`errors.ROUTE_ERRORS` plus the shared ones),
all in the one error body `ErrorOut` with an example per code, and gives every request body
and 2xx JSON response an example (the model's own, else one made from its schema).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from parley.apidocs.errors import ROUTE_ERRORS
from parley.core.errors import AppError, ErrorCode
from parley.core.schemas import ErrorOut

JSON = "application/json"
ERROR_SCHEMA = "ErrorOut"
_ERROR_REF = {"$ref": f"#/components/schemas/{ERROR_SCHEMA}"}
_FASTAPI_422 = {"$ref": "#/components/schemas/HTTPValidationError"}
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

_AUTH = (ErrorCode.UNAUTHORIZED, ErrorCode.INVALID_TOKEN, ErrorCode.TOKEN_EXPIRED)
_ANY = (ErrorCode.INTERNAL_ERROR, ErrorCode.SERVICE_UNAVAILABLE)

# Details worth showing in an example; the rest show `{}`.
_DETAILS: dict[ErrorCode, dict[str, Any]] = {
    ErrorCode.VALIDATION_ERROR: {
        "errors": [{"field": "content", "message": "Field required", "type": "missing"}]
    },
    ErrorCode.RATE_LIMITED: {"scope": "CONVERSATION", "limit": 60, "retryAfterSeconds": 12},
    ErrorCode.PERMISSION_DENIED: {"flag": "canSendMessages"},
    ErrorCode.FILE_TOO_LARGE: {"maxBytes": 26214400},
    ErrorCode.RANGE_NOT_SATISFIABLE: {"size": 1024},
}


def _error_classes() -> dict[ErrorCode, type[AppError]]:
    found: dict[ErrorCode, type[AppError]] = {ErrorCode.INTERNAL_ERROR: AppError}
    pending = list(AppError.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        found.setdefault(cls.code, cls)
    return found


ERROR_CLASSES = _error_classes()


def error_status(code: ErrorCode) -> int:
    return ERROR_CLASSES[code].status


def error_example(code: ErrorCode) -> dict[str, Any]:
    cls = ERROR_CLASSES[code]
    return {
        "error": {
            "code": str(code),
            "message": cls.default_message,
            "details": _DETAILS.get(code, {}),
        }
    }


def shared_errors(operation: dict[str, Any]) -> tuple[ErrorCode, ...]:
    """The errors an operation gives for what it is, whatever its route does."""
    codes: list[ErrorCode] = list(_ANY)
    if operation.get("security"):
        codes += _AUTH
    body = operation.get("requestBody")
    if body is not None or operation.get("parameters"):
        codes.append(ErrorCode.VALIDATION_ERROR)
    if body is not None:
        codes.append(ErrorCode.PAYLOAD_TOO_LARGE)
        if JSON in body.get("content", {}):
            codes.append(ErrorCode.INVALID_JSON)
    return tuple(codes)


def _error_response(codes: list[ErrorCode], description: str | None) -> dict[str, Any]:
    # A route's own description names its codes; the shared ones are added in front.
    unnamed = ", ".join(str(code) for code in codes if str(code) not in (description or ""))
    response: dict[str, Any] = {
        "description": (f"{unnamed}: {description}" if unnamed else description)
        if description
        else unnamed,
        "content": {
            JSON: {
                "schema": _ERROR_REF,
                "examples": {
                    str(code): {
                        "summary": ERROR_CLASSES[code].default_message,
                        "value": error_example(code),
                    }
                    for code in codes
                },
            }
        },
    }
    if ErrorCode.RATE_LIMITED in codes or ErrorCode.SERVICE_UNAVAILABLE in codes:
        response["headers"] = {
            "Retry-After": {
                "description": "Seconds to wait before trying again (429; 503 when known)",
                "schema": {"type": "integer"},
            }
        }
    return response


def _schema_of(response: dict[str, Any]) -> Any:
    return response.get("content", {}).get(JSON, {}).get("schema")


def _document_errors(key: str, operation: dict[str, Any]) -> None:
    codes = [*ROUTE_ERRORS.get(key, ()), *shared_errors(operation)]
    by_status: dict[int, list[ErrorCode]] = {}
    for code in codes:
        listed = by_status.setdefault(error_status(code), [])
        if code not in listed:
            listed.append(code)
    responses: dict[str, Any] = operation.setdefault("responses", {})
    for status_key in list(responses):
        if int(status_key) not in by_status and _schema_of(responses[status_key]) == _FASTAPI_422:
            # FastAPI's own 422 where the operation takes nothing to validate. A status the
            # route declares but errors.py lacks stays, without examples: tests/openapi fails.
            del responses[status_key]
    for status, listed in sorted(by_status.items()):
        previous = responses.get(str(status), {})
        schema = _schema_of(previous)
        if schema not in (None, _ERROR_REF, _FASTAPI_422):
            continue  # a body of the route's own (/health's 503 names each dependency)
        described = previous.get("description")
        if described == "Validation Error":  # FastAPI's, for its `{detail}` body
            described = None
        responses[str(status)] = _error_response(listed, described)
    ordered = sorted(responses.items(), key=lambda item: item[0])
    responses.clear()
    responses.update(ordered)


def _resolve(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


_STRING_FORMATS = {
    "uuid": "0b7f6c1e-3d2a-4f8b-9c5e-1a2b3c4d5e6f",
    "date-time": "2026-12-04T12:00:00.000Z",
    "date": "2026-12-04",
    "uri": "https://example.com/",
    "email": "alice@example.com",
}


_NAMED = {"content": "Hello, team!", "username": "alice", "displayName": "Alice", "emoji": "👍"}


def example_from_schema(
    schema: dict[str, Any],
    components: dict[str, Any],
    depth: int = 0,
    *,
    name: str = "",
    required_only: bool = False,
) -> Any:
    """A value that fits `schema`: its own example or default where it has one. Request
    bodies show their required fields only (`required_only`), responses every field."""
    schema = _resolve(schema, components)
    again: dict[str, Any] = {"required_only": required_only, "name": name}
    for key in ("examples", "example", "const"):
        if key in schema:
            return schema[key][0] if key == "examples" else schema[key]
    if schema.get("default") is not None:
        return schema["default"]
    if "enum" in schema:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            choices = [item for item in schema[key] if item.get("type") != "null"]
            return example_from_schema((choices or schema[key])[0], components, depth, **again)
    if "allOf" in schema:
        return example_from_schema(schema["allOf"][0], components, depth, **again)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((item for item in kind if item != "null"), "null")
    if kind == "object" or "properties" in schema:
        if depth > 6:
            return {}
        required = set(schema.get("required", ()))
        return {
            field: example_from_schema(
                item, components, depth + 1, name=field, required_only=required_only
            )
            for field, item in schema.get("properties", {}).items()
            if field in required or not required_only
        }
    if kind == "array":
        if depth > 6:
            return []
        item = example_from_schema(schema.get("items", {}), components, depth + 1, **again)
        return [item] * max(1, schema.get("minItems", 1))
    if kind == "string":
        text = _STRING_FORMATS.get(schema.get("format", ""), _NAMED.get(name, "text"))
        if "format" not in schema and (name.endswith("At") or name.endswith("Timestamp")):
            text = _STRING_FORMATS["date-time"]
        minimum, maximum = schema.get("minLength", 0), schema.get("maxLength")
        text = text.ljust(minimum, "x")
        return text[:maximum] if maximum is not None else text
    if kind == "integer":
        return max(schema.get("minimum", 1), schema.get("exclusiveMinimum", 0) + 1)
    if kind == "number":
        return float(schema.get("minimum", 1.0))
    if kind == "boolean":
        return True
    return None


def _has_example(media: dict[str, Any]) -> bool:
    return "example" in media or "examples" in media


def _document_examples(operation: dict[str, Any], components: dict[str, Any]) -> None:
    body = operation.get("requestBody", {}).get("content", {})
    for media_type, media in body.items():
        if media_type == JSON and not _has_example(media) and "schema" in media:
            media["example"] = example_from_schema(media["schema"], components, required_only=True)
    for status, response in operation.get("responses", {}).items():
        if not status.startswith("2"):
            continue
        media = response.get("content", {}).get(JSON)
        if media is not None and not _has_example(media) and "schema" in media:
            media["example"] = example_from_schema(media["schema"], components)


def build_document(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI document with its real errors and examples."""
    document = get_openapi(
        title=app.title,
        version=app.version,
        openapi_version=app.openapi_version,
        description=app.description,
        routes=app.routes,
        webhooks=app.webhooks.routes,
        tags=app.openapi_tags,
        servers=app.servers,
    )
    components = document.setdefault("components", {}).setdefault("schemas", {})
    components[ERROR_SCHEMA] = ErrorOut.model_json_schema(
        ref_template="#/components/schemas/{model}"
    )
    nested = components[ERROR_SCHEMA].pop("$defs", {})
    components.update(nested)
    for path, item in document.get("paths", {}).items():
        for method in _METHODS:
            operation = item.get(method)
            if operation is not None:
                key = f"{method.upper()} {path}"
                _document_errors(key, operation)
                _document_examples(operation, components)
    for item in document.get("webhooks", {}).values():
        for method in _METHODS:
            if method in item:
                # The receiver's answers: FastAPI's `{detail}` 422 is not one of them.
                responses = item[method].get("responses", {})
                if (
                    responses.get("422", {}).get("content", {}).get(JSON, {}).get("schema")
                    == _FASTAPI_422
                ):
                    del responses["422"]
                _document_examples(item[method], components)
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    return document


def allowed_methods(document: dict[str, Any], path: str) -> list[str]:
    """The methods the document lists for the operation paths that match `path` (a 405's
    `Allow`)."""
    methods: set[str] = set()
    for template, item in document.get("paths", {}).items():
        pattern = "^" + re.sub(r"\\\{[^}]*\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path):
            methods |= {method.upper() for method in _METHODS if method in item}
    return sorted(methods)


def install_document(app: FastAPI) -> None:
    """Serve `build_document` at the app's openapi_url (built once, on first request)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_document(app)
        return app.openapi_schema

    replace: Callable[[], dict[str, Any]] = openapi
    app.openapi = replace  # type: ignore[method-assign]
