"""The test harness's `start_server`: a server is handed to tests only once the port it was
told to serve is really its own. Two suites run side by side, so another worker's server can
take the port between `free_port()` and `parley serve` binding it (tests/ports.py)."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest

from tests import conftest, ports


class _Healthy(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b'{"status":"ok"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def stranger() -> Iterator[int]:
    """A process-local HTTP server that answers /health with 200, like a parley server."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Healthy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


def test_a_port_answered_by_another_process_is_not_taken_for_ours(
    stranger: int, backend_env: dict[str, str]
) -> None:
    with pytest.raises(ports.PortTaken):
        conftest.start_server(backend_env, port=stranger)


def test_a_taken_port_is_given_up_for_another(
    stranger: int, backend_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    chosen = [stranger]
    real_free_port = ports.free_port

    def stranger_first() -> int:
        chosen.append(real_free_port())
        return chosen.pop(0)

    monkeypatch.setattr(ports, "free_port", stranger_first)
    server = conftest.start_server(backend_env)
    try:
        port = int(server.url.rsplit(":", 1)[1])
        assert port != stranger
        assert ports.listens_on(server.process.pid, port)
    finally:
        server.stop()


def test_our_own_server_is_recognised(backend_env: dict[str, str]) -> None:
    server = conftest.start_server(backend_env)
    try:
        assert ports.listens_on(server.process.pid, int(server.url.rsplit(":", 1)[1]))
    finally:
        server.stop()


def test_a_taken_second_port_is_chosen_again(
    stranger: int, backend_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """METRICS_PORT's first pick is taken: `parley serve` exits, and both ports are chosen
    again (the API's port is picked first, then METRICS_PORT)."""
    picks = [ports.free_port(), stranger]
    real_free_port = ports.free_port
    monkeypatch.setattr(ports, "free_port", lambda: picks.pop(0) if picks else real_free_port())
    server = conftest.start_server(backend_env, port_variables=("METRICS_PORT",))
    try:
        assert server.ports["METRICS_PORT"] != stranger
        assert ports.listens_on(server.process.pid, server.ports["METRICS_PORT"])
    finally:
        server.stop()
