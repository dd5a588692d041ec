"""Loopback stand-ins for Google's batchexecute endpoint; nothing here touches the network.

Certificates come from throw-away test CAs (trustme), so the engine's certificate checks
run for real: a server is trusted only when the test hands its CA to the engine.
"""

from __future__ import annotations

import base64
import json
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import pytest
import trustme


@pytest.fixture(scope="session")
def mp3_bytes() -> bytes:
    """A short real MP3, standing in for what Google returns for one text part."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        pytest.skip("ffmpeg is not installed")
    completed = subprocess.run(
        [
            ffmpeg,
            "-hide_banner",
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:duration=0.4",
            "-ac",
            "1",
            "-codec:a",
            "libmp3lame",
            "-b:a",
            "32k",
            "-fflags",
            "+bitexact",
            # Google sends bare MP3 frames: no ID3 tag, no Xing header.
            "-id3v2_version",
            "0",
            "-write_xing",
            "0",
            "-f",
            "mp3",
            "pipe:1",
        ],
        capture_output=True,
        check=True,
        timeout=30,
    )
    return completed.stdout


@pytest.fixture(scope="session")
def test_ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def ca_bundle(test_ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("ca") / "test-ca.pem"
    test_ca.cert_pem.write_to_path(str(path))
    return str(path)


@dataclass
class StandIn:
    """State shared between a test and its stand-in server thread."""

    url: str
    audio: bytes
    # "ok" answers with audio; an int answers with that HTTP status; "empty" answers 200
    # without any audio; "hang" reads the request and never answers; "drip" starts an
    # answer and then sends one byte every 50 ms, never finishing.
    mode: str | int = "ok"
    retry_after: str | None = None
    texts: list[str] = field(default_factory=list)
    params: list[list] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def hits(self) -> int:
        with self.lock:
            return len(self.params)


def _batchexecute_body(audio: bytes) -> bytes:
    # Shaped like Google's real answer: an anti-JSON-hijacking prefix, then length-prefixed
    # JSON lines where the audio is a JSON string inside a JSON string.
    inner = json.dumps([base64.b64encode(audio).decode("ascii")], separators=(",", ":"))
    envelope = json.dumps(
        [["wrb.fr", "jQ1olc", inner, None, None, None, "generic"], ["di", 51]],
        separators=(",", ":"),
    )
    tail = '[["e",4,null,null,3021]]'
    return f")]}}'\n\n{len(envelope)}\n{envelope}\n{len(tail)}\n{tail}\n".encode()


class _Handler(BaseHTTPRequestHandler):
    server: _TLSServer
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        state = self.server.state
        length = int(self.headers.get("Content-Length", "0"))
        form = parse_qs(self.rfile.read(length).decode("utf-8"))
        rpc = json.loads(form["f.req"][0])
        params = json.loads(rpc[0][0][1])
        with state.lock:
            state.params.append(params)
            state.texts.append(params[0])
        if state.mode == "hang":
            state.release.wait(10)
            return
        if state.mode == "drip":
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            while not state.release.wait(0.05):
                self.wfile.write(b" ")  # raises once the client hangs up, ending the thread
            return
        if state.mode == "ok":
            self._reply(200, _batchexecute_body(state.audio))
        elif state.mode == "empty":
            self._reply(200, b')]}\'\n\n25\n[["e",4,null,null,25]]\n')
        else:
            self._reply(int(state.mode), b"<html>error</html>")

    def _reply(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        if self.server.state.retry_after is not None:
            self.send_header("Retry-After", self.server.state.retry_after)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep test output clean


class _TLSServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, context: ssl.SSLContext, state_factory) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.context = context
        self.state: StandIn = state_factory(self.server_address[1])

    def finish_request(self, request, client_address) -> None:
        # Handshake in the worker thread: a client that rejects our certificate must not
        # stall or kill the accept loop.
        with self.context.wrap_socket(request, server_side=True) as tls:
            super().finish_request(tls, client_address)

    def handle_error(self, request, client_address) -> None:
        pass  # rejected handshakes and dropped clients are what some tests provoke


def _serve(cert: trustme.LeafCert, audio: bytes) -> Iterator[StandIn]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    server = _TLSServer(context, lambda port: StandIn(f"https://127.0.0.1:{port}", audio))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server.state
    finally:
        server.state.release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def standin(test_ca: trustme.CA, mp3_bytes: bytes) -> Iterator[StandIn]:
    """A stand-in whose certificate is signed by the test CA in ``ca_bundle``."""
    yield from _serve(test_ca.issue_cert("127.0.0.1", "localhost"), mp3_bytes)


@pytest.fixture
def untrusted_standin(mp3_bytes: bytes) -> Iterator[StandIn]:
    """A stand-in whose certificate comes from a CA that nobody trusts."""
    yield from _serve(trustme.CA().issue_cert("127.0.0.1", "localhost"), mp3_bytes)


@pytest.fixture
def misnamed_standin(test_ca: trustme.CA, mp3_bytes: bytes) -> Iterator[StandIn]:
    """Trusted CA, but the certificate names another host than the one we dial."""
    yield from _serve(test_ca.issue_cert("tts.example.invalid"), mp3_bytes)


@pytest.fixture
def blackhole() -> Iterator[str]:
    """An https URL whose port accepts TCP connections and then never says a word."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.bind(("127.0.0.1", 0))
        # The kernel completes handshakes into the backlog without accept(); keep it deep
        # enough for every retry so each attempt stalls in TLS, not in TCP connect.
        listener.listen(32)
        yield f"https://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()


@pytest.fixture
def refused_url() -> str:
    """An https URL on a loopback port where nothing listens."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"https://127.0.0.1:{port}"


@pytest.fixture
def sample_dir(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    out.mkdir()
    return out
