"""Mail and mailbox builders shared by the IMAP tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

from imapclient import IMAPClient

from mailgateway.mailboxes import Mailbox
from tests.mailgateway.dovecot import Dovecot


def mail(i: int, *, tag: str = "imap") -> bytes:
    """A new customer request; every mail from its own sender (no rate limit trips)."""
    msg = EmailMessage()
    msg["From"] = f"Cliente {i} <cliente{i}.{tag}@exemplo.com.br>"
    msg["To"] = "support@example.com"
    msg["Subject"] = f"Pedido {tag} número {i}"
    msg["Date"] = format_datetime(datetime(2026, 11, 27, 12, 0, i % 60, tzinfo=UTC))
    msg["Message-ID"] = f"<{tag}-{i}@exemplo.com.br>"
    msg.set_content(f"Olá, não consigo emitir a nota fiscal {i}.\n\nObrigado!\n")
    return msg.as_bytes().replace(b"\n", b"\r\n")


@contextmanager
def imap(dovecot: Dovecot, user: str, password: str) -> Iterator[IMAPClient]:
    with IMAPClient(dovecot.host, port=dovecot.port, ssl=False, timeout=30) as client:
        client.login(user, password)
        yield client


def append(
    dovecot: Dovecot, user: str, password: str, mails: list[bytes], folder: str = "INBOX"
) -> None:
    with imap(dovecot, user, password) as client:
        if not client.folder_exists(folder):
            client.create_folder(folder)
        for raw in mails:
            client.append(folder, raw)


def folder_message_ids(dovecot: Dovecot, user: str, password: str, folder: str) -> list[str]:
    """Message-IDs in folder, one per message (so a repeat shows up twice)."""
    with imap(dovecot, user, password) as client:
        if not client.folder_exists(folder):
            return []
        client.select_folder(folder, readonly=True)
        uids = client.search("ALL")
        if not uids:
            return []
        data = client.fetch(uids, ["BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])
        return sorted(
            v[b"BODY[HEADER.FIELDS (MESSAGE-ID)]"].decode().split(":", 1)[1].strip()
            for v in data.values()
        )


def flags(
    dovecot: Dovecot, user: str, password: str, folder: str = "INBOX"
) -> list[tuple[Any, ...]]:
    with imap(dovecot, user, password) as client:
        client.select_folder(folder, readonly=True)
        return [tuple(v[b"FLAGS"]) for v in client.fetch(client.search("ALL"), ["FLAGS"]).values()]


def mailbox_for(dovecot: Dovecot, user: str, password: str, **fields: Any) -> Mailbox:
    box = Mailbox(
        name=fields.pop("name", user),
        host=dovecot.host,
        port=dovecot.port,
        security="none",
        username=user,
        **fields,
    )
    box.set_password(password)
    box.save()
    return box
