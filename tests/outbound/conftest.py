"""Real peers for the outbound tests: an aiosmtpd capture server and a local
HTTP receiver, both on free 127.0.0.1 ports."""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
from collections.abc import Iterator
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from helpdesk.accounts import user_create
from helpdesk.roles import Role

PASSWORD = "correct-horse-battery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class CaptureHandler:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], EmailMessage, bytes]] = []
        self.refuse: dict[str, str] = {}  # rcpt -> SMTP reply
        self.lock = threading.Lock()

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        with self.lock:
            self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), msg, raw))
        return "250 Message accepted"


class SMTPCapture:
    def __init__(self) -> None:
        self.handler = CaptureHandler()
        self.port = free_port()
        self.host = "127.0.0.1"
        self.controller: Controller | None = None

    @property
    def messages(self) -> list[tuple[str, list[str], EmailMessage, bytes]]:
        return self.handler.messages

    def mails(self) -> list[EmailMessage]:
        return [m[2] for m in self.handler.messages]

    def start(self) -> None:
        self.controller = Controller(self.handler, hostname=self.host, port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp_server(settings: Any) -> Iterator[SMTPCapture]:
    server = SMTPCapture()
    server.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = server.host
    settings.EMAIL_PORT = server.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 5
    try:
        yield server
    finally:
        server.stop()


class _Receiver(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        server: Any = self.server
        with server.lock:
            server.requests.append(
                SimpleNamespace(path=self.path, headers=dict(self.headers), body=body)
            )
            status = server.statuses.pop(0) if server.statuses else server.default_status
        self.send_response(status)
        if 300 <= status < 400:
            self.send_header("Location", getattr(server, "location", "http://127.0.0.1:1/internal"))
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def http_receiver() -> Iterator[Any]:
    server: Any = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    server.requests = []
    server.statuses = []  # statuses to answer, in order; then default_status
    server.default_status = 200
    server.lock = threading.Lock()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.json = lambda i: json.loads(server.requests[i].body)
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def english_agent(team: Any) -> Any:
    user = user_create(
        email="bob@support.example", full_name="Bob Agent", role=Role.AGENT, password=PASSWORD
    )
    user.language = "en"
    user.signature = "Bob\nSupport team"
    user.save()
    team.members.add(user)
    return user
