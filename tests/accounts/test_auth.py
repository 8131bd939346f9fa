"""Registration, login and the strict checking of bearer tokens (POST /auth/*, GET /users/me)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from tests.support import PASSWORD, Server, User, assert_error, unique_name

PUBLIC_USER_FIELDS = {"id", "username", "displayName", "createdAt", "status", "lastSeenAt"}


@pytest.fixture(scope="module")
def jwt_secret(backend_env: dict[str, str], server: Server) -> str:
    """The key the running server signs with: JWT_SECRET, or the embedded mode's secret file."""
    if backend_env.get("JWT_SECRET"):
        return backend_env["JWT_SECRET"]
    return (Path(backend_env["PARLEY_DATA_DIR"]) / "jwt_secret").read_text().strip()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _hand_made_token(header: dict[str, Any], claims: dict[str, Any], signature: bytes) -> str:
    """A compact JWS assembled without PyJWT, so any header can be sent."""
    head = _b64url(json.dumps(header).encode())
    body = _b64url(json.dumps(claims).encode())
    return f"{head}.{body}.{_b64url(signature)}"


def _claims(user: User, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {"sub": user.id, "iat": now, "exp": now + 3600}
    claims.update(overrides)
    return {key: value for key, value in claims.items() if value is not None}


def _sign(claims: dict[str, Any], key: str, algorithm: str = "HS256") -> str:
    """PyJWT-made token; a key shorter than HS512's 64 bytes is fine for these tests."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jwt.warnings.InsecureKeyLengthWarning)
        return jwt.encode(claims, key, algorithm=algorithm)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _register_raw(client: httpx.AsyncClient, username: str, **extra: Any) -> httpx.Response:
    return await client.post(
        "/auth/register", json={"username": username, "password": PASSWORD, **extra}
    )


# --- registration -----------------------------------------------------------------------------


async def test_register_returns_201_with_bearer_token_and_user(client: httpx.AsyncClient) -> None:
    username = unique_name("reg")
    response = await _register_raw(client, username)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["tokenType"] == "bearer"
    assert isinstance(body["accessToken"], str) and body["accessToken"]
    assert isinstance(body["expiresIn"], int) and body["expiresIn"] > 0
    assert body["user"]["username"] == username
    assert body["user"]["displayName"] == username
    assert body["user"]["status"] in {"ONLINE", "OFFLINE"}
    uuid.UUID(body["user"]["id"])


async def test_register_token_authenticates_the_new_user(client: httpx.AsyncClient) -> None:
    response = await _register_raw(client, unique_name("tok"))
    assert response.status_code == 201, response.text
    body = response.json()
    me = await client.get("/users/me", headers=_bearer(body["accessToken"]))
    assert me.status_code == 200, me.text
    assert me.json()["id"] == body["user"]["id"]


async def test_register_returns_public_user_fields_only(client: httpx.AsyncClient) -> None:
    response = await _register_raw(client, unique_name("pub"))
    assert response.status_code == 201, response.text
    assert set(response.json()["user"]) == PUBLIC_USER_FIELDS


async def test_register_response_never_contains_password_or_hash(
    client: httpx.AsyncClient,
) -> None:
    response = await _register_raw(client, unique_name("nohash"))
    assert response.status_code == 201, response.text
    text = response.text.lower()
    assert "password" not in text
    assert "argon2" not in text
    assert PASSWORD not in response.text


async def test_register_keeps_display_name(client: httpx.AsyncClient) -> None:
    response = await _register_raw(client, unique_name("dn"), displayName="Ada Lovelace")
    assert response.status_code == 201, response.text
    assert response.json()["user"]["displayName"] == "Ada Lovelace"


async def test_register_timestamps_are_utc_iso_with_z(client: httpx.AsyncClient) -> None:
    response = await _register_raw(client, unique_name("ts"))
    assert response.status_code == 201, response.text
    assert response.json()["user"]["createdAt"].endswith("Z")


@pytest.mark.parametrize(
    "username",
    [
        pytest.param("ab", id="too-short"),
        pytest.param("x" * 33, id="too-long"),
        pytest.param("bad name", id="space"),
        pytest.param("bad!name", id="punctuation"),
        pytest.param("bad@name", id="at-sign"),
        pytest.param("", id="empty"),
    ],
)
async def test_register_rejects_invalid_username(client: httpx.AsyncClient, username: str) -> None:
    response = await _register_raw(client, username)
    assert_error(response, 422, "VALIDATION_ERROR")


async def test_register_rejects_short_password(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/auth/register", json={"username": unique_name("pw"), "password": "short"}
    )
    assert_error(response, 422, "VALIDATION_ERROR")


async def test_register_username_taken_ignoring_case(client: httpx.AsyncClient) -> None:
    suffix = secrets.token_hex(4)
    first = await _register_raw(client, f"Zed_x{suffix}")
    assert first.status_code == 201, first.text
    second = await _register_raw(client, f"zed_X{suffix}")
    assert_error(second, 409, "USERNAME_TAKEN")


async def test_register_same_name_exactly_taken(client: httpx.AsyncClient) -> None:
    username = unique_name("dup")
    first = await _register_raw(client, username)
    assert first.status_code == 201, first.text
    assert_error(await _register_raw(client, username), 409, "USERNAME_TAKEN")


async def test_concurrent_registrations_of_one_name_make_one_user(
    client: httpx.AsyncClient,
) -> None:
    username = unique_name("race")
    responses = await asyncio.gather(*(_register_raw(client, username) for _ in range(5)))
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [201, 409, 409, 409, 409], [r.text for r in responses]
    for response in responses:
        if response.status_code == 409:
            assert_error(response, 409, "USERNAME_TAKEN")


# --- login ------------------------------------------------------------------------------------


async def test_login_returns_token_for_the_user(client: httpx.AsyncClient, alice: User) -> None:
    response = await client.post(
        "/auth/login", json={"username": alice.username, "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["tokenType"] == "bearer"
    assert body["user"]["id"] == alice.id
    assert set(body["user"]) == PUBLIC_USER_FIELDS
    me = await client.get("/users/me", headers=_bearer(body["accessToken"]))
    assert me.status_code == 200, me.text
    assert me.json()["id"] == alice.id


async def test_login_ignores_username_case(client: httpx.AsyncClient, bob: User) -> None:
    response = await client.post(
        "/auth/login", json={"username": bob.username.upper(), "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    assert response.json()["user"]["id"] == bob.id


async def test_login_wrong_password_is_invalid_credentials(
    client: httpx.AsyncClient, alice: User
) -> None:
    response = await client.post(
        "/auth/login", json={"username": alice.username, "password": PASSWORD + "!"}
    )
    assert_error(response, 401, "INVALID_CREDENTIALS")


async def test_login_unknown_user_is_invalid_credentials(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/auth/login", json={"username": unique_name("ghost"), "password": PASSWORD}
    )
    assert_error(response, 401, "INVALID_CREDENTIALS")


async def test_login_response_never_contains_password_or_hash(
    client: httpx.AsyncClient, carol: User
) -> None:
    response = await client.post(
        "/auth/login", json={"username": carol.username, "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    assert "password" not in response.text.lower()
    assert "argon2" not in response.text.lower()


# --- /users/me --------------------------------------------------------------------------------


async def test_me_returns_the_caller(client: httpx.AsyncClient, alice: User) -> None:
    response = await client.get("/users/me", headers=alice.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == alice.id
    assert body["username"] == alice.username


async def test_me_returns_public_fields_only(client: httpx.AsyncClient, bob: User) -> None:
    response = await client.get("/users/me", headers=bob.headers)
    assert response.status_code == 200, response.text
    assert set(response.json()) == PUBLIC_USER_FIELDS
    assert "argon2" not in response.text.lower()


# --- strict token checks ----------------------------------------------------------------------


async def test_me_without_authorization_is_unauthorized(client: httpx.AsyncClient) -> None:
    assert_error(await client.get("/users/me"), 401, "UNAUTHORIZED")


async def test_me_with_non_bearer_scheme_is_unauthorized(
    client: httpx.AsyncClient, alice: User
) -> None:
    response = await client.get("/users/me", headers={"Authorization": f"Basic {alice.token}"})
    assert_error(response, 401, "UNAUTHORIZED")


async def test_garbage_token_is_invalid(client: httpx.AsyncClient) -> None:
    response = await client.get("/users/me", headers=_bearer("not-a-jwt"))
    assert_error(response, 401, "INVALID_TOKEN")


async def test_token_forged_with_real_secret_is_accepted(
    client: httpx.AsyncClient, alice: User, jwt_secret: str
) -> None:
    """Control for the forgeries below: a well-formed HS256 token with the real key works."""
    token = _sign(_claims(alice), jwt_secret)
    response = await client.get("/users/me", headers=_bearer(token))
    assert response.status_code == 200, response.text
    assert response.json()["id"] == alice.id


async def test_alg_none_token_is_invalid(client: httpx.AsyncClient, alice: User) -> None:
    token = _hand_made_token({"alg": "none", "typ": "JWT"}, _claims(alice), b"")
    assert token.endswith(".")
    response = await client.get("/users/me", headers=_bearer(token))
    assert_error(response, 401, "INVALID_TOKEN")


async def test_token_signed_with_another_key_is_invalid(
    client: httpx.AsyncClient, alice: User
) -> None:
    token = _sign(_claims(alice), secrets.token_urlsafe(64))
    response = await client.get("/users/me", headers=_bearer(token))
    assert_error(response, 401, "INVALID_TOKEN")


async def test_token_with_hs512_alg_is_invalid(
    client: httpx.AsyncClient, alice: User, jwt_secret: str
) -> None:
    token = _sign(_claims(alice), jwt_secret, algorithm="HS512")
    response = await client.get("/users/me", headers=_bearer(token))
    assert_error(response, 401, "INVALID_TOKEN")


async def test_token_with_rs256_header_is_invalid(
    client: httpx.AsyncClient, alice: User, jwt_secret: str
) -> None:
    """Algorithm confusion: an RS256 header over an HMAC made with the shared secret."""
    header = {"alg": "RS256", "typ": "JWT"}
    head = _b64url(json.dumps(header).encode())
    body = _b64url(json.dumps(_claims(alice)).encode())
    signature = hmac.new(jwt_secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    token = f"{head}.{body}.{_b64url(signature)}"
    response = await client.get("/users/me", headers=_bearer(token))
    assert_error(response, 401, "INVALID_TOKEN")


async def test_token_without_exp_is_invalid(
    client: httpx.AsyncClient, alice: User, jwt_secret: str
) -> None:
    token = _sign(_claims(alice, exp=None), jwt_secret)
    response = await client.get("/users/me", headers=_bearer(token))
    assert_error(response, 401, "INVALID_TOKEN")


async def test_token_without_sub_is_invalid(
    client: httpx.AsyncClient, alice: User, jwt_secret: str
) -> None:
    token = _sign(_claims(alice, sub=None), jwt_secret)
    response = await client.get("/users/me", headers=_bearer(token))
    assert_error(response, 401, "INVALID_TOKEN")


async def test_token_not_yet_valid_is_invalid(
    client: httpx.AsyncClient, alice: User, jwt_secret: str
) -> None:
    token = _sign(_claims(alice, nbf=int(time.time()) + 3600), jwt_secret)
    response = await client.get("/users/me", headers=_bearer(token))
    assert_error(response, 401, "INVALID_TOKEN")


async def test_token_with_non_uuid_sub_is_invalid(
    client: httpx.AsyncClient, alice: User, jwt_secret: str
) -> None:
    token = _sign(_claims(alice, sub=alice.username), jwt_secret)
    response = await client.get("/users/me", headers=_bearer(token))
    assert_error(response, 401, "INVALID_TOKEN")


async def test_token_for_unknown_user_is_invalid(
    client: httpx.AsyncClient, alice: User, jwt_secret: str
) -> None:
    token = _sign(_claims(alice, sub=str(uuid.uuid4())), jwt_secret)
    response = await client.get("/users/me", headers=_bearer(token))
    assert_error(response, 401, "INVALID_TOKEN")


async def test_expired_token_is_token_expired(
    client: httpx.AsyncClient, alice: User, jwt_secret: str
) -> None:
    now = int(time.time())
    claims = _claims(alice, iat=now - 7200, exp=now - 3600)
    token = _sign(claims, jwt_secret)
    response = await client.get("/users/me", headers=_bearer(token))
    assert_error(response, 401, "TOKEN_EXPIRED")


async def test_tampered_payload_is_invalid(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    """Alice's real signature over a payload rewritten to name Bob."""
    head, _payload, signature = alice.token.split(".")
    forged_body = _b64url(json.dumps(_claims(bob)).encode())
    response = await client.get("/users/me", headers=_bearer(f"{head}.{forged_body}.{signature}"))
    assert_error(response, 401, "INVALID_TOKEN")
