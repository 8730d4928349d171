"""The README's curl example, line by line, through the test client: the
example cannot drift from what the API does."""

from __future__ import annotations

import io
import re
import shlex
from pathlib import Path
from typing import Any

from django.core.management import call_command
from django.test import Client

from helpdesk.accounts import user_create
from helpdesk.roles import Role
from tickets.models import Ticket

README = Path(__file__).resolve().parents[2] / "README.md"
CAPTURE = re.compile(r"^(\w+)=\$\((.*)\)$", re.S)


def example_commands() -> list[str]:
    """The shell block of the README's API section, continuation lines joined."""
    section = README.read_text().split("\n## API\n", 1)[1].split("\n## ", 1)[0]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    return [c.strip() for c in block.replace("\\\n", " ").splitlines() if c.strip()]


def run_curl(client: Client, words: list[str], env: dict[str, str]) -> Any:
    method, headers, data, url = "GET", {}, "", ""
    words = iter(words[1:])
    for word in words:
        if word == "-X":
            method = next(words)
        elif word == "-H":
            name, value = next(words).split(":", 1)
            headers[name.strip()] = value.strip()
        elif word == "-d":
            data = next(words)
        elif not word.startswith("-"):
            url = word
    for name, value in env.items():
        url = url.replace(f"${name}", value)
        headers = {k: v.replace(f"${name}", value) for k, v in headers.items()}
    content_type = headers.pop("Content-Type", "application/json")
    response = client.generic(method, url, data=data, content_type=content_type, headers=headers)
    assert response.status_code < 300, (method, url, response.content)
    return response.json()


def test_the_readme_example_opens_answers_and_resolves_a_ticket(db: Any) -> None:
    user_create(email="agent@example.com", full_name="Ana", role=Role.AGENT, password="x" * 12)
    client = Client()
    env: dict[str, str] = {}
    for command in example_commands():
        name, rest = "", command
        if re.match(r"^\w+=", command):
            name, rest = command.split("=", 1)
        if captured := CAPTURE.match(command):
            rest = captured.group(2)
        words = shlex.split(rest)
        manage = [i for i, w in enumerate(words[:2]) if w.endswith("manage.py")]
        if manage:
            out = io.StringIO()
            call_command(*words[manage[0] + 1 :], stdout=out)
            env[name] = out.getvalue().strip()
        elif words[0] == "curl":
            pipe = words.index("|") if "|" in words else len(words)
            answer = run_curl(client, words[:pipe], env)
            if pipe < len(words):  # | jq -r .field
                env[name] = answer[words[-1].removeprefix(".")]
        else:  # HELPDESK=http://...: the test client needs no host
            env[name] = ""
    ticket = Ticket.objects.get(reference=env["REF"])
    assert ticket.status == "resolved"
    assert ticket.created_by.email == "customer@example.com"
    assert ticket.messages.filter(body__startswith="Please switch it off").exists()
