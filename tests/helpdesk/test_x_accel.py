"""HELPDESK_X_ACCEL_REDIRECT: local attachment downloads handed to a real
nginx (the location block of config/deploy/nginx.conf, as shipped) after
Django's access checks."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from django.conf import settings as django_settings
from django.test import Client

from tests.conftest import require_program
from tests.programs import locate
from tickets import services
from tickets.models import Attachment, Ticket
from tickets.services import NewAttachment

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.requires_program("nginx")]

ROOT = Path(__file__).resolve().parents[2]


def shipped_location(media: Path) -> str:
    """The /protected/ block of the deploy file, aliasing this test's media."""
    conf = (ROOT / "config/deploy/nginx.conf").read_text()
    found = re.search(r"    location /protected/ \{.*?\n    \}", conf, re.S)
    assert found, "config/deploy/nginx.conf has no /protected/ location"
    return found.group(0).replace("/srv/helpdesk/var/media/", f"{media}/")


@pytest.fixture
def nginx(live_server: Any, tmp_path: Path, settings: Any) -> Iterator[str]:
    require_program("nginx")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    work = tmp_path / "nginx"
    work.mkdir()
    upstream = live_server.url.removeprefix("http://")
    conf = work / "nginx.conf"
    conf.write_text(
        f"""
{"user root;" if os.geteuid() == 0 else ""}
daemon off;
worker_processes 1;
pid {work}/nginx.pid;
error_log {work}/error.log;
events {{}}
http {{
    access_log off;
    client_body_temp_path {work}/body;
    proxy_temp_path {work}/proxy;
    fastcgi_temp_path {work}/fastcgi;
    uwsgi_temp_path {work}/uwsgi;
    scgi_temp_path {work}/scgi;
    server {{
        listen 127.0.0.1:{port};
{shipped_location(Path(settings.MEDIA_ROOT))}
        location / {{
            proxy_pass http://{upstream};
            proxy_set_header Host 127.0.0.1;
        }}
    }}
}}
"""
    )
    proc = subprocess.Popen(
        [locate("nginx") or "nginx", "-c", str(conf), "-p", str(work)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"nginx did not start: {proc.stderr.read()!r}") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGQUIT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def session_of(user: Any) -> dict[str, str]:
    client = Client()
    client.force_login(user)
    name = django_settings.SESSION_COOKIE_NAME
    return {name: client.cookies[name].value}


def test_nginx_sends_the_file_after_the_access_checks(
    nginx: str, settings: Any, ticket: Ticket, customer: Any, other_customer: Any
) -> None:
    settings.HELPDESK_X_ACCEL_REDIRECT = "/protected/"
    message = services.ticket_reply_add(
        ticket=ticket,
        author=customer,
        body="see the file",
        attachments=[
            NewAttachment(
                name="orçamento.html", content_type="text/html", content=b"<script>1</script>"
            )
        ],
    )
    attachment: Attachment = message.attachments.get()
    url = f"{nginx}/attachments/{attachment.pk}/"

    response = requests.get(url, cookies=session_of(customer), timeout=30)
    assert response.status_code == 200
    assert response.content == b"<script>1</script>"
    assert "X-Accel-Redirect" not in response.headers
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert response.headers["Content-Disposition"] == (
        "attachment; filename=\"or_amento.html\"; filename*=UTF-8''or%C3%A7amento.html"
    )
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Security-Policy"] == "sandbox"
    assert response.headers["Cache-Control"] == "private, no-store"

    # The checks are Django's: nothing for another customer, nor anonymously.
    assert requests.get(url, cookies=session_of(other_customer), timeout=30).status_code == 404
    assert (
        "/accounts/login/"
        in requests.get(url, timeout=30, allow_redirects=False).headers["Location"]
    )
    # And the internal location cannot be asked for directly.
    direct = f"{nginx}/protected/{attachment.file.name}"
    assert requests.get(direct, cookies=session_of(customer), timeout=30).status_code == 404
