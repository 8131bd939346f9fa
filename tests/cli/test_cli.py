"""The `parley` command: help, migrations, refusing bad configuration, the embedded secret."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.conftest import PARLEY, ROOT, start_server
from tests.ports import free_port
from tests.support import PASSWORD, unique_name

TIMEOUT = 120
SQLITE_ONLY = pytest.mark.skipif(
    os.environ.get("PARLEY_TEST_BACKEND", "sqlite") != "sqlite",
    reason="embedded mode (SQLite, generated secret) only",
)


def _env(data_dir: Path, **overrides: str) -> dict[str, str]:
    """The test process's environment without a configured backend, in embedded mode."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "JWT_SECRET", "ENCRYPTION_KEYS"}
    }
    env.update(PARLEY_DATA_DIR=str(data_dir), LOG_LEVEL="WARNING")
    env.update(overrides)
    return env


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PARLEY, *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def _serve(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`parley serve`; a configuration it accepts would serve until the timeout fails the test."""
    return subprocess.run(
        [PARLEY, "serve", "--host", "127.0.0.1", "--port", str(free_port())],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


# --- help -------------------------------------------------------------------------------------


def test_help_lists_commands(tmp_path: Path) -> None:
    result = _run(["--help"], _env(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "serve" in result.stdout
    assert "migrate" in result.stdout


def test_serve_help_mentions_host_and_port(tmp_path: Path) -> None:
    result = _run(["serve", "--help"], _env(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "--host" in result.stdout
    assert "--port" in result.stdout


def test_migrate_help_exits_zero(tmp_path: Path) -> None:
    result = _run(["migrate", "--help"], _env(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "--revision" in result.stdout


def test_unknown_command_is_usage_error(tmp_path: Path) -> None:
    result = _run(["frobnicate"], _env(tmp_path))
    assert result.returncode == 2


# --- migrate ----------------------------------------------------------------------------------


def test_migrate_on_fresh_data_dir_creates_database(tmp_path: Path) -> None:
    result = _run(["migrate"], _env(tmp_path))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "parley.db").is_file()


def test_migrate_twice_is_a_no_op(tmp_path: Path) -> None:
    assert _run(["migrate"], _env(tmp_path)).returncode == 0
    again = _run(["migrate"], _env(tmp_path))
    assert again.returncode == 0, again.stderr


# --- bad configuration ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("MAX_MESSAGE_LENGTH", "abc"),
        ("CACHE_TTL", "-5"),
        ("MAX_FILE_SIZE", "lots"),
        ("JWT_EXPIRES_IN", "soon"),
        ("DATABASE_URL", "mysql://x/y"),
        ("REDIS_URL", "http://x"),
        ("WS_MAX_CONNECTIONS", "0"),
    ],
)
def test_bad_configuration_stops_start_up_naming_variable(
    tmp_path: Path, variable: str, value: str
) -> None:
    result = _serve(_env(tmp_path, **{variable: value}))
    assert result.returncode == 2, result.stderr
    assert variable in result.stderr
    assert "Traceback" not in result.stderr


def test_postgres_without_jwt_secret_is_refused(tmp_path: Path) -> None:
    env = _env(tmp_path, DATABASE_URL="postgresql://parley@127.0.0.1:9/nowhere")
    result = _serve(env)
    assert result.returncode == 2, result.stderr
    assert "JWT_SECRET" in result.stderr


def test_read_replica_with_sqlite_is_refused(tmp_path: Path) -> None:
    env = _env(tmp_path, DATABASE_READ_URL="postgresql://reader:secret@127.0.0.1:9/replica")
    result = _serve(env)
    assert result.returncode == 2, result.stderr
    assert "DATABASE_READ_URL" in result.stderr
    assert "PostgreSQL" in result.stderr
    assert "secret" not in result.stderr  # the URL's password is never echoed


def test_metrics_port_equal_to_the_api_port_is_refused(tmp_path: Path) -> None:
    port = free_port()
    result = subprocess.run(
        [PARLEY, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=_env(tmp_path, METRICS_PORT=str(port)),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert "METRICS_PORT" in result.stderr


def test_short_jwt_secret_is_refused(tmp_path: Path) -> None:
    result = _serve(_env(tmp_path, JWT_SECRET="s" * 31))
    assert result.returncode == 2, result.stderr
    assert "JWT_SECRET" in result.stderr


def test_jwt_secret_of_32_chars_is_accepted(tmp_path: Path) -> None:
    result = _run(["migrate"], _env(tmp_path, JWT_SECRET="s" * 32))
    assert result.returncode == 0, result.stderr


def test_migrate_also_refuses_bad_configuration(tmp_path: Path) -> None:
    result = _run(["migrate"], _env(tmp_path, CACHE_TTL="-5"))
    assert result.returncode == 2, result.stderr
    assert "CACHE_TTL" in result.stderr


# --- embedded mode's generated secret ---------------------------------------------------------


def test_embedded_secret_file_is_private(tmp_path: Path) -> None:
    assert _run(["migrate"], _env(tmp_path)).returncode == 0
    secret_file = tmp_path / "jwt_secret"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert len(secret_file.read_text().strip()) >= 32


def test_embedded_secret_file_is_reused(tmp_path: Path) -> None:
    assert _run(["migrate"], _env(tmp_path)).returncode == 0
    first = (tmp_path / "jwt_secret").read_text()
    assert _run(["migrate"], _env(tmp_path)).returncode == 0
    assert (tmp_path / "jwt_secret").read_text() == first


@SQLITE_ONLY
def test_tokens_survive_restart_on_same_data_dir(
    backend_env: dict[str, str], tmp_path: Path
) -> None:
    extra = {"PARLEY_DATA_DIR": str(tmp_path)}
    first = start_server(backend_env, extra)
    try:
        response = httpx.post(
            first.url + "/auth/register",
            json={"username": unique_name("restart"), "password": PASSWORD},
            timeout=30,
        )
        assert response.status_code == 201, response.text
    finally:
        first.stop()
        os.unlink(first.log_path)
    token, user_id = response.json()["accessToken"], response.json()["user"]["id"]

    second = start_server(backend_env, extra)
    try:
        me = httpx.get(
            second.url + "/users/me", headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
    finally:
        second.stop()
        os.unlink(second.log_path)
    assert me.status_code == 200, me.text
    assert me.json()["id"] == user_id


# --- several processes starting at once on one embedded data directory --------------------


def test_processes_migrating_a_fresh_file_at_once_all_succeed(tmp_path: Path) -> None:
    """Two `parley serve` (or `parley migrate` beside a server) started together on a new
    SQLite file: they take turns (the later finds the schema at head), and share one
    generated JWT secret and encryption key. Each round used to fail one of the two."""
    for round_number in range(3):
        data_dir = tmp_path / f"round-{round_number}"
        env = _env(data_dir)
        processes = [
            subprocess.Popen(
                [PARLEY, "migrate"],
                env=env,
                cwd=ROOT,
                text=True,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            for _ in range(2)
        ]
        for process in processes:
            _out, err = process.communicate(timeout=TIMEOUT)
            assert process.returncode == 0, err
        assert _run(["migrate"], env).returncode == 0  # and at head: nothing left to do
        assert len((data_dir / "jwt_secret").read_text().strip()) >= 32
        assert [p.name for p in data_dir.iterdir() if p.name.startswith(".")] == []
