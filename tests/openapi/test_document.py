"""/openapi.json tells the truth: every documented error of docs/api.md, in the real error
body (never FastAPI's `{detail}`), and an example for every request and 2xx body."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from openapi_spec_validator import validate

from tests.conftest import ROOT
from tests.openapi.conftest import operations, schema_errors

API_DOC = ROOT / "docs" / "api.md"
ERROR_REF = "#/components/schemas/ErrorOut"
# A line that starts by naming an endpoint: "### `POST /attachments`", "`POST /messages` takes".
_ENDPOINT = re.compile(r"^(?:#+\s*)?`(GET|POST|PUT|PATCH|DELETE) (/[^`\s]*)`")
_ROW = re.compile(r"^\|\s*(\d{3})\s*\|\s*`([A-Z_]+)`")


def _template(path: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", path)


def documented_errors(text: str) -> dict[str, set[tuple[int, str]]]:
    """docs/api.md's `| status | code | when |` tables, by the endpoint named last before
    each (in a heading or at the start of a paragraph)."""
    found: dict[str, set[tuple[int, str]]] = {}
    endpoint: str | None = None
    in_table = False
    for line in text.splitlines():
        named = _ENDPOINT.match(line)
        if named:
            endpoint = f"{named[1]} {_template(named[2])}"
        elif line.startswith("#"):
            endpoint = None
        if line.replace(" ", "").startswith("|status|code|when|"):
            assert endpoint is not None, f"an error table names no endpoint: {line}"
            in_table = True
            continue
        if not line.startswith("|"):
            in_table = False
        row = _ROW.match(line)
        if in_table and row and endpoint is not None:
            found.setdefault(endpoint, set()).add((int(row[1]), row[2]))
    return found


def _by_template(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        f"{key.split(' ')[0]} {_template(key.split(' ', 1)[1])}": operation
        for key, operation in operations(document).items()
    }


def _codes(response: dict[str, Any]) -> set[str]:
    examples = response.get("content", {}).get("application/json", {}).get("examples", {})
    return {example["value"]["error"]["code"] for example in examples.values()}


def test_the_document_is_valid_openapi(document: dict[str, Any]) -> None:
    validate(document)  # OpenAPI 3.1's own schema (openapi-spec-validator, a dev package)


def test_the_parser_reads_the_attachment_tables() -> None:
    found = documented_errors(API_DOC.read_text())
    assert (413, "FILE_TOO_LARGE") in found["POST /attachments"]
    assert (416, "RANGE_NOT_SATISFIABLE") in found["GET /attachments/{}"]
    assert (409, "ATTACHMENT_ALREADY_SENT") in found["POST /messages"]


def test_every_error_documented_in_api_md_is_in_the_operation(document: dict[str, Any]) -> None:
    by_template = _by_template(document)
    missing = []
    for endpoint, errors in documented_errors(API_DOC.read_text()).items():
        assert endpoint in by_template, f"docs/api.md names {endpoint}, OpenAPI has no such path"
        responses = by_template[endpoint]["responses"]
        for status, code in sorted(errors):
            if code not in _codes(responses.get(str(status), {})):
                missing.append(f"{endpoint}: {status} {code}")
    assert not missing, missing


def test_every_error_code_of_the_errors_table_is_documented_somewhere(
    document: dict[str, Any],
) -> None:
    text = API_DOC.read_text().split("## Errors", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"`([A-Z][A-Z_]+)`", text)) - {"SNAKE_CASE"}
    # Answers of no operation: an unknown route, a wrong method, `/` without the web build.
    not_an_operation = {"NOT_FOUND", "METHOD_NOT_ALLOWED", "WEB_CLIENT_NOT_BUILT"}
    documented = {
        code
        for operation in operations(document).values()
        for response in operation["responses"].values()
        for code in _codes(response)
    }
    assert listed - not_an_operation - documented == set()


def _walk(value: Any) -> list[dict[str, Any]]:
    found = []
    if isinstance(value, dict):
        found.append(value)
        for item in value.values():
            found += _walk(item)
    elif isinstance(value, list):
        for item in value:
            found += _walk(item)
    return found


def test_no_detail_shaped_error_is_documented(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert "ValidationError" not in schemas
    for node in _walk(document):
        assert "detail" not in node.get("properties", {}), node
        assert "HTTPValidationError" not in str(node.get("$ref", ""))


def test_every_error_response_is_the_real_error_body(document: dict[str, Any]) -> None:
    for key, operation in operations(document).items():
        for status, response in operation["responses"].items():
            if int(status) < 400 or (key == "GET /health" and status == "503"):
                continue
            media = response["content"]["application/json"]
            assert media["schema"] == {"$ref": ERROR_REF}, (key, status)
            assert media["examples"], (key, status)
            for example in media["examples"].values():
                assert not schema_errors(document, media["schema"], example["value"])


def test_every_operation_lists_the_shared_errors(document: dict[str, Any]) -> None:
    for key, operation in operations(document).items():
        responses = operation["responses"]
        assert {"INTERNAL_ERROR"} <= _codes(responses["500"]), key
        assert "SERVICE_UNAVAILABLE" in _codes(responses.get("503", {})) or key == "GET /health"
        if operation.get("security"):
            assert {"UNAUTHORIZED", "INVALID_TOKEN", "TOKEN_EXPIRED"} <= _codes(responses["401"]), (
                key
            )
        if operation.get("parameters") or operation.get("requestBody"):
            assert "VALIDATION_ERROR" in _codes(responses["422"]), key


def _json_media(content: dict[str, Any]) -> dict[str, Any] | None:
    media = content.get("application/json")
    return media if media is not None and "schema" in media else None


def test_every_json_request_body_has_an_example_that_fits(document: dict[str, Any]) -> None:
    bodies = 0
    for key, operation in operations(document).items():
        media = _json_media(operation.get("requestBody", {}).get("content", {}))
        if media is None:
            continue
        bodies += 1
        assert "example" in media, key
        assert not schema_errors(document, media["schema"], media["example"]), key
    assert bodies > 10


def test_every_2xx_json_response_has_an_example_that_fits(document: dict[str, Any]) -> None:
    for key, operation in operations(document).items():
        for status, response in operation["responses"].items():
            media = _json_media(response.get("content", {}))
            if not status.startswith("2") or media is None:
                continue
            assert "example" in media, (key, status)
            assert not schema_errors(document, media["schema"], media["example"]), (key, status)


def test_the_error_body_schema_is_the_contract(document: dict[str, Any]) -> None:
    schema = {"$ref": ERROR_REF}
    good = {"error": {"code": "MESSAGE_NOT_FOUND", "message": "Message not found", "details": {}}}
    assert not schema_errors(document, schema, good)
    assert schema_errors(document, schema, {"detail": [{"loc": ["body"], "msg": "x"}]})
    assert schema_errors(document, schema, {"error": {"code": "NO_SUCH_CODE", "message": ""}})


def test_docs_and_readme_say_where_the_document_is() -> None:
    assert "/openapi.json" in API_DOC.read_text()
    assert "/docs" in Path(ROOT / "README.md").read_text()
