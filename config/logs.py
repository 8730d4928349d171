"""Log lines for people and for machines (LOG_FORMAT=plain|json).

An event is an ordinary log call with its fields in `extra`:
    log.info("mail ingested", extra={"event": "mail.ingested", "door": "smtp", ...})
The plain format appends them as key=value, the JSON format writes one object
a line. Both pass through `redact` first, so a password, token or secret that
slipped into a message or a field never reaches the log.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

# What every LogRecord has; anything else on a record came from `extra`.
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}

_SECRETS = [
    # First, so 'Authorization: Bearer x' loses x, not only the word Bearer.
    (re.compile(r"(?i)\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+"), r"\1 [redacted]"),
    # password=..., "token": "...", api_key: ...
    (
        re.compile(
            r"""(?i)(["']?\b(?:password|passwd|pwd|secret|token|api[_-]?key|authorization)\b["']?\s*[=:]\s*)(["']?)[^\s"',;&]+"""
        ),
        r"\1\2[redacted]",
    ),
    # scheme://user:password@host
    (re.compile(r"(\b[a-z][a-z0-9+.-]*://[^\s:/@]+):[^\s@/]+@"), r"\1:[redacted]@"),
]
_SECRET_FIELDS = re.compile(r"(?i)password|passwd|secret|token|api_?key|authorization")


def redact(text: str) -> str:
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


def fields(record: logging.LogRecord) -> dict[str, Any]:
    """The record's extra fields, secrets blanked by name and by shape."""
    out: dict[str, Any] = {}
    for key, value in record.__dict__.items():
        if key in _STANDARD or key.startswith("_"):
            continue
        if _SECRET_FIELDS.search(key):
            out[key] = "[redacted]"
        elif isinstance(value, str):
            out[key] = redact(value)
        elif value is None or isinstance(value, bool | int | float):
            out[key] = value
        else:
            out[key] = redact(str(value))
    return out


class PlainFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = redact(super().format(record))
        extra = " ".join(f"{key}={_plain(value)}" for key, value in fields(record).items())
        return f"{line} {extra}" if extra else line


def _plain(value: Any) -> str:
    text = "-" if value is None else str(value)
    return json.dumps(text, ensure_ascii=False) if not text or " " in text else text


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
            **fields(record),
        }
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)
