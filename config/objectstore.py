"""The S3-compatible object store (HELPDESK_S3_BUCKET): attachments as the
default storage, the raw-mail archive under the same bucket's raw/ prefix.

Every failure to reach the store is an ObjectStoreError, an OSError: the
doors already treat an OSError while storing a mail as "nothing stored,
retry" (SMTP 451, pipe exit 75, the IMAP message left alone), exactly as for
a full local disk, and mailgateway.ingest treats it as transient while
processing too. This module imports no boto: the storage class itself is in
config.s3 (the `s3` extra), loaded only when a bucket is configured.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings

if TYPE_CHECKING:
    from config.s3 import ObjectStorage


class ObjectStoreError(OSError):
    """The object store did not confirm a read or write (unreachable,
    refused, timed out, or an error answer other than 'no such object')."""


def configured() -> bool:
    return bool(getattr(settings, "HELPDESK_S3_BUCKET", ""))


def options() -> dict[str, Any]:
    """The storage options of the configured bucket (settings.STORAGES)."""
    return dict(settings.HELPDESK_S3_OPTIONS)


_raw: tuple[tuple[tuple[str, Any], ...], ObjectStorage] | None = None


def raw_storage() -> ObjectStorage:
    """The raw-mail archive: the same bucket, keys under raw/. Overwrite on:
    every name is a fresh uuid, so Django's collision check (a HEAD per mail)
    would only cost a round trip."""
    global _raw
    opts = {**options(), "location": "raw", "file_overwrite": True}
    key = tuple(sorted((k, repr(v)) for k, v in opts.items()))
    if _raw is None or _raw[0] != key:
        from config.s3 import ObjectStorage

        _raw = (key, ObjectStorage(**opts))
    return _raw[1]


def ping() -> None:
    """Raise ObjectStoreError unless the bucket answers a HEAD (/healthz)."""
    raw_storage().ping()


def download_url(storage: Any, name: str, *, disposition: str, content_type: str) -> str | None:
    """A short-lived presigned URL for name when storage is the object
    store, else None (a local file is streamed by the view)."""
    if not configured():
        return None
    from config.s3 import ObjectStorage

    if not isinstance(storage, ObjectStorage):
        return None
    return storage.download_url(name, disposition=disposition, content_type=content_type)
