"""The served OpenAPI document, and a validator of a value against one of its schemas."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


@pytest.fixture(scope="session")
async def document(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200, response.text
    return dict(response.json())


def operations(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """`"METHOD /path"` -> operation, for every path of the document."""
    return {
        f"{method.upper()} {path}": item[method]
        for path, item in document["paths"].items()
        for method in METHODS
        if method in item
    }


def schema_errors(document: dict[str, Any], schema: dict[str, Any], value: Any) -> list[str]:
    """Why `value` does not fit `schema` (refs resolved in the document); [] when it does."""
    rooted = {**schema, "components": document["components"]}
    validator = Draft202012Validator(rooted)
    return [
        f"{list(error.absolute_path)}: {error.message}" for error in validator.iter_errors(value)
    ]
