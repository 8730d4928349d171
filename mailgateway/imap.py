"""The IMAP side of the poller: connect, log in, list, fetch, acknowledge (imapclient).

No database writes and no policy here: mailgateway.poller decides what to fetch and
when to acknowledge. Messages are fetched with BODY.PEEK[], which unlike BODY[] or
RFC822 does not set \\Seen (RFC 9051 6.4.5), so a message is only ever flagged,
moved or deleted by acknowledge(), after its ingest committed. Library code never
calls sys.exit; every failure is an ImapFailure whose text holds no secret.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
from collections.abc import Iterator, Sequence
from types import TracebackType
from typing import Any

from imapclient import IMAPClient
from imapclient import exceptions as imap_exceptions

from mailgateway import oauth
from mailgateway.crypto import SecretUnreadable
from mailgateway.mailboxes import AfterAction, AuthMethod, Mailbox, Security

log = logging.getLogger(__name__)

BATCH = 100  # messages per FETCH
BATCH_BYTES = 25 * 1024 * 1024  # ...and at most this much mail held in memory at once
TIMEOUT = 60.0  # seconds per socket operation


class ImapFailure(Exception):
    """Connecting, logging in or talking to the server failed."""


def _describe(exc: BaseException) -> str:
    # imapclient's texts are the server's replies; ours never carry credentials.
    text = str(exc).strip() or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:300]


def batches(uids: Sequence[int], sizes: dict[int, int] | None = None) -> Iterator[list[int]]:
    """Groups of at most BATCH uids and (when sizes are known) about BATCH_BYTES."""
    group: list[int] = []
    weight = 0
    for uid in uids:
        size = (sizes or {}).get(uid, 0)
        if group and (len(group) >= BATCH or weight + size > BATCH_BYTES):
            yield group
            group, weight = [], 0
        group.append(uid)
        weight += size
    if group:
        yield group


class ImapSession:
    """One logged-in connection with the mailbox's folder selected.

    Use as a context manager: the connection is logged out in all cases.
    """

    def __init__(self, mailbox: Mailbox, *, timeout: float = TIMEOUT) -> None:
        self.mailbox = mailbox
        self.timeout = timeout
        self.client: IMAPClient | None = None
        self.uidvalidity = 0

    def __enter__(self) -> ImapSession:
        try:
            self._connect()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _connect(self) -> None:
        box = self.mailbox
        context = ssl.create_default_context()
        try:
            self.client = IMAPClient(
                box.host,
                port=box.port,
                ssl=box.security == Security.SSL,
                ssl_context=context,
                timeout=self.timeout,
            )
            if box.security == Security.STARTTLS:
                self.client.starttls(context)
        except (OSError, imap_exceptions.IMAPClientError) as exc:
            raise ImapFailure(
                f"cannot connect to {box.host}:{box.port}: {_describe(exc)}"
            ) from None
        try:
            if box.auth_method == AuthMethod.XOAUTH2:
                token = oauth.access_token(box)
                self.client.oauth2_login(box.username, token)
            else:
                self.client.login(box.username, box.password())
        except (oauth.OAuthError, SecretUnreadable) as exc:
            raise ImapFailure(f"cannot log in as {box.username}: {exc}") from None
        except (OSError, imap_exceptions.IMAPClientError) as exc:
            raise ImapFailure(f"cannot log in as {box.username}: {_describe(exc)}") from None
        self.select()

    def select(self) -> int:
        """(Re)select the folder; returns its UIDVALIDITY."""
        client = self._client()
        try:
            info = client.select_folder(self.mailbox.folder)
        except (OSError, imap_exceptions.IMAPClientError) as exc:
            raise ImapFailure(
                f"cannot open folder {self.mailbox.folder!r}: {_describe(exc)}"
            ) from None
        self.uidvalidity = int(info[b"UIDVALIDITY"])
        return self.uidvalidity

    def _client(self) -> IMAPClient:
        if self.client is None:
            raise ImapFailure("not connected")
        return self.client

    def close(self) -> None:
        client, self.client = self.client, None
        if client is None:
            return
        try:
            client.logout()
        except Exception:
            # The server may already be gone; drop the socket without a word.
            try:
                client.shutdown()
            except Exception:
                log.debug("IMAP shutdown after failed logout", exc_info=True)

    def uids(self) -> list[int]:
        """Every message in the folder not already marked for deletion, oldest first."""
        try:
            return sorted(int(uid) for uid in self._client().search(["NOT", "DELETED"]))
        except (OSError, imap_exceptions.IMAPClientError) as exc:
            raise ImapFailure(f"SEARCH failed: {_describe(exc)}") from None

    def fetch(self, uids: Sequence[int]) -> Iterator[tuple[int, bytes]]:
        """Yield (uid, raw bytes) for uids still present, in batches.

        The raw bytes are exactly what the server stores; a message expunged by
        someone else meanwhile is simply not yielded.
        """
        client = self._client()
        try:
            for chunk in batches(uids):
                sizes = {
                    int(uid): int(data.get(b"RFC822.SIZE", 0))
                    for uid, data in client.fetch(chunk, ["RFC822.SIZE"]).items()
                }
                for group in batches(chunk, sizes):
                    response = client.fetch(group, ["BODY.PEEK[]"])
                    for uid in group:
                        data = response.pop(uid, None)
                        if data is None or b"BODY[]" not in data:
                            continue
                        yield uid, bytes(data[b"BODY[]"])
        except (OSError, imap_exceptions.IMAPClientError) as exc:
            raise ImapFailure(f"FETCH failed: {_describe(exc)}") from None

    def acknowledge(self, uids: Sequence[int], *, again: bool = False) -> None:
        """Apply the after-processing action. Call only once the ingest committed.

        again: a run that died meanwhile was acknowledging these, so a copy of
        them may already be in the destination (see _move)."""
        if not uids:
            return
        box, client = self.mailbox, self._client()
        try:
            if box.action == AfterAction.SEEN:
                client.add_flags(list(uids), [b"\\Seen"], silent=True)
            elif box.action == AfterAction.MOVE:
                self._move(list(uids), box.move_to or "Processed", again=again)
            else:
                client.add_flags(list(uids), [b"\\Deleted"], silent=True)
                self._expunge(list(uids))
        except (OSError, imap_exceptions.IMAPClientError) as exc:
            raise ImapFailure(f"{box.action} failed: {_describe(exc)}") from None

    def _move(self, uids: list[int], folder: str, *, again: bool = False) -> None:
        client = self._client()
        if not client.folder_exists(folder):
            client.create_folder(folder)
        if client.has_capability("MOVE"):  # RFC 6851: atomic, no \Deleted left behind
            client.move(uids, folder)
            return
        # COPY, flag, expunge: a crash between them leaves the copy made. Again,
        # copy only what the destination does not hold yet (found by the F1
        # fault suite: a move killed after its COPY put its batch there twice).
        missing = self._not_held(uids, folder) if again else uids
        if missing:
            client.copy(missing, folder)
        client.add_flags(uids, [b"\\Deleted"], silent=True)
        self._expunge(uids)

    def _not_held(self, uids: list[int], folder: str) -> list[int]:
        """The uids of which folder holds no copy: none with the same
        Message-ID and size (a message without a Message-ID counts as not held)."""
        client = self._client()
        fetched = client.fetch(uids, ["RFC822.SIZE", "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])
        wanted: dict[int, tuple[str, int]] = {}
        for uid, data in fetched.items():
            header = bytes(data.get(b"BODY[HEADER.FIELDS (MESSAGE-ID)]") or b"")
            message_id = header.decode("ascii", "replace").partition(":")[2].strip()
            if message_id:
                wanted[int(uid)] = (message_id, int(data.get(b"RFC822.SIZE", -1)))
        held: set[int] = set()
        client.select_folder(folder, readonly=True)
        try:
            for uid, (message_id, size) in wanted.items():
                copies = client.search(["HEADER", "Message-ID", message_id])
                if copies and any(
                    int(d.get(b"RFC822.SIZE", -2)) == size
                    for d in client.fetch(copies, ["RFC822.SIZE"]).values()
                ):
                    held.add(uid)
        finally:
            self.select()
        return [uid for uid in uids if uid not in held]

    def expunge_leftovers(self, uids: Sequence[int]) -> None:
        """Expunge those of uids that a run which died meanwhile flagged
        \\Deleted but did not expunge (a move without MOVE, or a delete):
        uids() no longer lists them, so nothing else would (found by F1)."""
        if not uids or self.mailbox.action == AfterAction.SEEN:
            return
        client = self._client()
        try:
            deleted = {int(uid) for uid in client.search(["DELETED"])}
            ours = [uid for uid in uids if uid in deleted]
            if ours:
                self._expunge(ours)
        except (OSError, imap_exceptions.IMAPClientError) as exc:
            raise ImapFailure(f"EXPUNGE failed: {_describe(exc)}") from None

    def _expunge(self, uids: list[int]) -> None:
        client = self._client()
        if client.has_capability("UIDPLUS"):
            # UID EXPUNGE (RFC 4315) removes only our messages, never others marked \Deleted.
            client.expunge(uids)
        else:
            client.expunge()

    def wait_for_news(self, timeout: float) -> bool:
        """IMAP IDLE (RFC 2177) for up to timeout seconds; True when the server spoke."""
        client = self._client()
        try:
            client.idle()
            try:
                responses: list[Any] = client.idle_check(timeout=timeout)
            finally:
                client.idle_done()
        except (TimeoutError, OSError, imap_exceptions.IMAPClientError) as exc:
            raise ImapFailure(f"IDLE failed: {_describe(exc)}") from None
        return bool(responses)

    def interrupt(self) -> None:
        """Wake a blocked IDLE from another thread (shutdown): the socket is shut."""
        client = self.client
        if client is not None:
            with contextlib.suppress(OSError):
                client.socket().shutdown(socket.SHUT_RDWR)

    def supports_idle(self) -> bool:
        return bool(self._client().has_capability("IDLE"))
