"""The test harness's `start_server`: a server is handed to tests only once the port it was
told to serve is really its own. Two suites run side by side, so another worker's server can
take the port between `free_port()` and `parley serve` binding it."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest

from tests import conftest


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
    stranger: int, backend_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(conftest, "free_port", lambda: stranger)
    with pytest.raises(conftest.PortTaken):
        conftest._start_server(backend_env, None, None)


def test_our_own_server_is_recognised(backend_env: dict[str, str]) -> None:
    server = conftest.start_server(backend_env)
    try:
        assert conftest._listens_on(server.process.pid, int(server.url.rsplit(":", 1)[1]))
    finally:
        server.stop()
