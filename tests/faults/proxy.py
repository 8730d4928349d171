"""A TCP proxy between a client process and a server that acts the moment the
client sends a given command: kills the client (the IMAP poller right after
its UID COPY reached the server, before it flags and expunges), or cuts the
connection so the server's answer never arrives (a PostgreSQL COMMIT that
commits, its reply lost). A crash at an exact protocol step, which a random
kill almost never hits."""

from __future__ import annotations

import contextlib
import re
import socket
import threading
from collections.abc import Callable


class KillingProxy:
    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.trap: re.Pattern[bytes] | None = None  # client command that sets off on_trap
        self.on_trap: Callable[[socket.socket], None] = lambda client: None
        self.sprung = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        threading.Thread(target=self._accept, daemon=True).start()

    def arm(
        self, command: bytes | re.Pattern[bytes], on_trap: Callable[[socket.socket], None]
    ) -> None:
        """The next time a client sends `command` (an IMAP command such as
        b"UID COPY", or a pattern), pass it on to the server, then call
        on_trap with the client's socket (to kill the client, or cut it off)."""
        self.sprung.clear()
        self.on_trap = on_trap
        if isinstance(command, bytes):
            command = re.compile(rb"^\S+ " + re.escape(command) + rb"\b", re.MULTILINE | re.I)
        self.trap = command

    def disarm(self) -> None:
        self.trap = None

    def close(self) -> None:
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.upstream_port))
            threading.Thread(target=self._pipe, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(server, client, False), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, from_client: bool) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
                trap = self.trap
                if from_client and trap is not None and trap.search(data):
                    self.trap = None
                    self.on_trap(source)
                    self.sprung.set()
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
