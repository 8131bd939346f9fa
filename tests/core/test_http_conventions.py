"""Conventions every endpoint shares: the error shape, request ids, OpenAPI, docs, health."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import pytest

from tests.support import PASSWORD, User, assert_error, unique_name

CONTRACT_PATHS = [
    "/auth/register",
    "/auth/login",
    "/users/me",
    "/users",
    "/conversations",
    "/conversations/{conversation_id}",
    "/conversations/{conversation_id}/participants",
    "/messages",
    "/messages/conversation/{conversation_id}",
    "/messages/{message_id}",
    "/messages/{message_id}/reactions",
    "/health",
    "/audit",
    "/attachments",
    "/attachments/{attachment_id}",
]


def _error_fields(response: httpx.Response) -> set[str]:
    return {item["field"] for item in response.json()["error"]["details"]["errors"]}


@pytest.fixture(scope="module")
async def openapi(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200, response.text
    return dict(response.json())


# --- errors -----------------------------------------------------------------------------------


async def test_unknown_route_is_not_found(client: httpx.AsyncClient) -> None:
    response = await client.get(f"/no-such-route-{secrets.token_hex(4)}")
    assert_error(response, 404, "NOT_FOUND")


async def test_unknown_route_with_token_is_not_found(
    client: httpx.AsyncClient, alice: User
) -> None:
    response = await client.post("/users/me/nothing-here", headers=alice.headers, json={})
    assert_error(response, 404, "NOT_FOUND")


async def test_wrong_method_is_method_not_allowed(client: httpx.AsyncClient) -> None:
    response = await client.delete("/auth/register")
    assert_error(response, 405, "METHOD_NOT_ALLOWED")


async def test_wrong_method_lists_allowed_methods(client: httpx.AsyncClient) -> None:
    response = await client.delete("/auth/register")
    assert response.status_code == 405
    assert "POST" in response.headers.get("allow", "")


async def test_invalid_json_body_is_invalid_json(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/auth/register",
        content=b'{"username": "broken", ',
        headers={"Content-Type": "application/json"},
    )
    assert_error(response, 400, "INVALID_JSON")


async def test_validation_error_lists_each_bad_field(client: httpx.AsyncClient) -> None:
    response = await client.post("/auth/register", json={"username": "ab", "password": "x"})
    error = assert_error(response, 422, "VALIDATION_ERROR")
    assert isinstance(error["details"]["errors"], list)
    assert {"username", "password"} <= _error_fields(response)


async def test_validation_error_names_field_in_camel_case(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/auth/register",
        json={"username": unique_name("camel"), "password": PASSWORD, "displayName": ""},
    )
    assert_error(response, 422, "VALIDATION_ERROR")
    assert "displayName" in _error_fields(response)
    assert "display_name" not in _error_fields(response)


async def test_missing_required_field_is_listed(client: httpx.AsyncClient) -> None:
    response = await client.post("/auth/login", json={"username": unique_name("nopw")})
    assert_error(response, 422, "VALIDATION_ERROR")
    assert "password" in _error_fields(response)


async def test_unknown_body_field_is_validation_error(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/auth/register",
        json={"username": unique_name("extra"), "password": PASSWORD, "favouriteColour": "teal"},
    )
    assert_error(response, 422, "VALIDATION_ERROR")
    assert "favouriteColour" in _error_fields(response)


async def test_blank_display_name_is_validation_error(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/auth/register",
        json={"username": unique_name("blank"), "password": PASSWORD, "displayName": "   "},
    )
    assert_error(response, 422, "VALIDATION_ERROR")


async def test_blank_display_name_error_lists_field(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/auth/register",
        json={"username": unique_name("blank"), "password": PASSWORD, "displayName": "   "},
    )
    assert_error(response, 422, "VALIDATION_ERROR")
    assert "displayName" in _error_fields(response)


# --- request ids ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/health", 200),
        ("GET", "/users/me", 401),
        ("GET", "/no-such-route", 404),
        ("DELETE", "/auth/register", 405),
        ("POST", "/auth/login", 422),
    ],
)
async def test_every_response_carries_request_id(
    client: httpx.AsyncClient, method: str, path: str, status: int
) -> None:
    response = await client.request(method, path, json={} if method == "POST" else None)
    assert response.status_code == status, response.text
    assert response.headers.get("x-request-id")


async def test_request_ids_differ_between_requests(client: httpx.AsyncClient) -> None:
    first = await client.get("/health")
    second = await client.get("/health")
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


async def test_incoming_request_id_is_echoed(client: httpx.AsyncClient) -> None:
    request_id = f"test-{secrets.token_hex(8)}"
    response = await client.get("/health", headers={"X-Request-ID": request_id})
    assert response.headers["x-request-id"] == request_id


async def test_incoming_request_id_is_echoed_on_errors(client: httpx.AsyncClient) -> None:
    request_id = f"test-{secrets.token_hex(8)}"
    response = await client.get("/users/me", headers={"X-Request-ID": request_id})
    assert_error(response, 401, "UNAUTHORIZED")
    assert response.headers["x-request-id"] == request_id


# --- OpenAPI and docs -------------------------------------------------------------------------


@pytest.mark.parametrize("path", CONTRACT_PATHS)
def test_openapi_lists_contract_path(openapi: dict[str, Any], path: str) -> None:
    assert path in openapi["paths"], sorted(openapi["paths"])


def test_openapi_has_bearer_security_scheme(openapi: dict[str, Any]) -> None:
    schemes = openapi["components"]["securitySchemes"].values()
    assert any(
        scheme.get("type") == "http" and scheme.get("scheme", "").lower() == "bearer"
        for scheme in schemes
    ), schemes


def test_openapi_marks_users_me_as_secured(openapi: dict[str, Any]) -> None:
    bearer_names = {
        name
        for name, scheme in openapi["components"]["securitySchemes"].items()
        if scheme.get("type") == "http" and scheme.get("scheme", "").lower() == "bearer"
    }
    requirements = openapi["paths"]["/users/me"]["get"].get("security", [])
    assert any(set(requirement) & bearer_names for requirement in requirements), requirements


async def test_docs_page_is_html(client: httpx.AsyncClient) -> None:
    response = await client.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "openapi.json" in response.text


# --- health -----------------------------------------------------------------------------------


async def test_health_needs_no_token_and_reports_ok(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "ok"


async def test_health_reports_database_ok(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200, response.text
    assert response.json()["checks"]["database"]["status"] == "ok"


async def test_health_reports_redis_when_configured(
    client: httpx.AsyncClient, backend_env: dict[str, str]
) -> None:
    checks = (await client.get("/health")).json()["checks"]
    if backend_env.get("REDIS_URL"):
        assert checks["redis"]["status"] == "ok"
    else:
        assert "redis" not in checks
