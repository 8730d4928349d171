"""The two ways ingesting a mail can fail, mapped to each door's answer in one place.

InboundError: a fault on our side that may pass (database down, disk full):
the mail was NOT stored and the sender must retry (SMTP 451, pipe exit 75,
HTTP 5xx, IMAP leaves the message untouched).

InboundRejected: the mail can never be accepted as sent (unknown recipient,
oversized): SMTP 5xx, pipe exit 67/65. Everything else, even hostile mail,
is stored and quarantined rather than rejected.
"""

from __future__ import annotations


class InboundError(Exception):
    """Transient: nothing was stored, try again later."""


class InboundRejected(Exception):
    """Permanent: this mail will never be accepted. smtp_code/exit_code say how to answer."""

    def __init__(self, message: str, *, smtp_code: str = "550 5.7.1", exit_code: int = 65) -> None:
        super().__init__(message)
        self.smtp_code = smtp_code
        self.exit_code = exit_code
