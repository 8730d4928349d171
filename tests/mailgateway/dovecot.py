"""A throwaway Dovecot IMAP server and a local OAuth 2.0 server for the IMAP tests.

Adapted from ../shared/RECIPES.md section 1 (works as root, as in CI, and rootless).
Dovecot checks XOAUTH2 logins with its oauth2 passdb against our introspection
endpoint, so the poller's token handling is exercised against a real server.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from tests.programs import locate

# tests/conftest.py skips (or, with CI set, fails) every test using the dovecot
# fixture when these are missing (Debian: dovecot-imapd, dovecot-core).
DOVECOT = locate("dovecot") or "/usr/sbin/dovecot"
DOVEADM = locate("doveadm") or "/usr/bin/doveadm"
POOL = 60  # accounts created at start, one per test that needs a clean mailbox


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class OAuthServer:
    """Token endpoint (RFC 6749 client credentials + refresh token) and RFC 7662 introspection."""

    client_id: str = "helpdesk-app"
    client_secret: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    refresh_token: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    user: str = "oauthbox"
    expires_in: int = 3600
    tokens: dict[str, str] = field(default_factory=dict)  # access token -> user
    grants: list[dict[str, str]] = field(default_factory=list)
    introspections: int = 0
    port: int = 0

    @property
    def token_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/{{tenant}}/token"

    @property
    def introspection_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/introspect"

    def revoke_all(self) -> None:
        self.tokens.clear()

    def start(self) -> ThreadingHTTPServer:
        oauth = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _form(self) -> dict[str, str]:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode()
                return {k: v[-1] for k, v in parse_qs(body).items()}

            def _json(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                form = self._form()
                if self.path == "/introspect":
                    oauth.introspections += 1
                    user = oauth.tokens.get(form.get("token", ""))
                    self._json(
                        200, {"active": True, "username": user} if user else {"active": False}
                    )
                    return
                if not self.path.endswith("/token"):
                    self._json(404, {"error": "not_found"})
                    return
                oauth.grants.append({**form, "path": self.path})
                grant = form.get("grant_type")
                if form.get("client_id") != oauth.client_id:
                    self._json(401, {"error": "invalid_client"})
                    return
                payload: dict[str, Any] = {}
                if grant == "client_credentials":
                    if form.get("client_secret") != oauth.client_secret:
                        self._json(401, {"error": "invalid_client"})
                        return
                elif grant == "refresh_token":
                    if form.get("refresh_token") != oauth.refresh_token:
                        self._json(400, {"error": "invalid_grant"})
                        return
                    oauth.refresh_token = secrets.token_urlsafe(16)  # rotate, like Microsoft
                    payload["refresh_token"] = oauth.refresh_token
                else:
                    self._json(400, {"error": "unsupported_grant_type"})
                    return
                token = secrets.token_urlsafe(24)
                oauth.tokens[token] = oauth.user
                payload.update(access_token=token, token_type="Bearer", expires_in=oauth.expires_in)
                self._json(200, payload)

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(server.server_address[1])
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server


@dataclass
class Dovecot:
    dir: str
    port: int
    conf: str
    log: str
    process: subprocess.Popen[bytes]
    users: dict[str, str] = field(default_factory=dict)
    host: str = "127.0.0.1"
    _count: int = 0

    def add_user(self) -> tuple[str, str]:
        """A fresh account from the pool written at start; returns (name, password).

        (Dovecot re-reads a changed passwd-file only about once a second, so
        accounts are not added while it runs.)
        """
        self._count += 1
        name = f"user{self._count}"
        return name, self.users[name]

    def doveadm(self, *args: str, input: bytes | None = None) -> str:
        result = subprocess.run([DOVEADM, "-c", self.conf, *args], input=input, capture_output=True)
        if result.returncode != 0:
            raise RuntimeError(f"doveadm {' '.join(args)}: {result.stderr.decode()}")
        return result.stdout.decode()


def start_dovecot(oauth: OAuthServer, extra_conf: str = "") -> Dovecot:
    """A running Dovecot; extra_conf is appended to its configuration."""
    d = tempfile.mkdtemp(prefix="hd-dovecot-")
    os.chmod(d, 0o755)  # the auth process runs as "dovecot" and must reach d/users
    port = free_port()
    if os.geteuid() == 0:  # imap-login refuses root and mail uid 0 is refused
        user, extra = "nobody", ""
    else:
        user = pwd.getpwuid(os.getuid()).pw_name
        extra = (
            f"default_internal_user = {user}\ndefault_login_user = {user}\n"
            f"default_internal_group = {grp.getgrgid(os.getgid()).gr_name}\n"
        )
    os.makedirs(f"{d}/mail")
    if os.geteuid() == 0:
        shutil.chown(f"{d}/mail", user="nobody")
    users = {f"user{i}": secrets.token_urlsafe(12) for i in range(1, POOL + 1)}
    with open(f"{d}/users", "w") as f:
        f.writelines(f"{name}:{{PLAIN}}{password}\n" for name, password in users.items())
    with open(f"{d}/oauth2.conf.ext", "w") as f:
        f.write(
            "introspection_mode = post\n"
            f"introspection_url = {oauth.introspection_url}\n"
            "force_introspection = yes\n"
            "username_attribute = username\n"
            "active_attribute = active\n"
            "active_value = true\n"
        )
    conf = f"{d}/dovecot.conf"
    with open(conf, "w") as f:
        f.write(
            extra
            + f"""
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login xoauth2 oauthbearer
auth_failure_delay = 0
auth_cache_size = 0
mail_location = maildir:{d}/mail/%u
passdb {{
  driver = passwd-file
  mechanisms = plain login
  args = scheme=PLAIN username_format=%u {d}/users
}}
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {d}/oauth2.conf.ext
}}
userdb {{
  driver = static
  args = uid={user} gid={pwd.getpwnam(user).pw_gid} home={d}/mail/%u allow_all_users=yes
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
"""
            + extra_conf
        )
    log = f"{d}/dovecot.log"
    proc = subprocess.Popen([DOVECOT, "-F", "-c", conf])
    deadline = time.monotonic() + 15
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                if s.recv(100).startswith(b"* OK"):
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            text = Path(log).read_text() if os.path.exists(log) else "no log"
            shutil.rmtree(d, ignore_errors=True)
            raise RuntimeError(f"dovecot did not start: {text}")
        time.sleep(0.05)
    return Dovecot(dir=d, port=port, conf=conf, log=log, process=proc, users=users)


def stop_dovecot(server: Dovecot) -> None:
    server.process.terminate()
    try:
        server.process.wait(10)
    except subprocess.TimeoutExpired:
        server.process.kill()
    shutil.rmtree(server.dir, ignore_errors=True)
