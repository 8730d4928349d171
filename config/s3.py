"""django-storages' S3Storage as the helpdesk uses it (config.objectstore)."""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from storages.backends.s3 import S3Storage

from config.objectstore import ObjectStoreError

# A stalled store must fail a mail's session with 451 in seconds, not hang it:
# short timeouts, and botocore's own retries for a blip (3 attempts).
CLIENT_TIMEOUTS = {"connect_timeout": 5, "read_timeout": 30}
RETRIES = {"max_attempts": 3, "mode": "standard"}

log = logging.getLogger("helpdesk.objectstore")


def _missing(exc: ClientError) -> bool:
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return status == 404 or exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey"}


def _wrap(exc: BotoCoreError | ClientError, action: str, name: str) -> ObjectStoreError:
    # The message names the operation and the key, never a credential.
    return ObjectStoreError(f"object store {action} {name}: {type(exc).__name__}: {exc}"[:500])


class ObjectStorage(S3Storage):
    """django-storages' S3Storage with bounded timeouts, store failures raised
    as ObjectStoreError, and a client per process: the mail gateway forks
    worker processes, and a forked child must not share its parent's
    keep-alive connections (two processes writing one socket corrupt both)."""

    def __init__(self, **options: Any) -> None:
        if options.get("client_config") is None:
            options["client_config"] = Config(
                s3={"addressing_style": options.get("addressing_style") or "auto"},
                signature_version=options.get("signature_version") or "s3v4",
                retries=RETRIES,  # type: ignore[arg-type]
                **CLIENT_TIMEOUTS,
            )
        super().__init__(**options)
        self._pid = os.getpid()

    def _after_fork(self) -> None:
        if self._pid != os.getpid():
            self._connections = threading.local()
            self._unsigned_connections = threading.local()
            self._bucket = None
            self._pid = os.getpid()

    @property
    def connection(self) -> Any:
        self._after_fork()
        return super().connection

    @property
    def bucket(self) -> Any:
        self._after_fork()  # the cached Bucket holds the parent's connection
        return super().bucket

    def _save(self, name: str, content: Any) -> str:
        try:
            # upload_fileobj returns once the store answered the last PUT (one
            # PutObject, or CompleteMultipartUpload for a large file); with
            # botocore's default checksums the store verified the bytes.
            return str(super()._save(name, content))
        except (BotoCoreError, ClientError) as exc:
            raise _wrap(exc, "write", name) from exc

    def _open(self, name: str, mode: str = "rb") -> Any:
        try:
            return super()._open(name, mode)
        except ClientError as exc:
            if _missing(exc):
                raise FileNotFoundError(name) from exc
            raise _wrap(exc, "read", name) from exc
        except BotoCoreError as exc:
            raise _wrap(exc, "read", name) from exc

    def read(self, name: str) -> bytes:
        """The whole object, in one GET."""
        key = self._normalize_name(name)
        try:
            answer = self.connection.meta.client.get_object(Bucket=self.bucket_name, Key=key)
            return bytes(answer["Body"].read())
        except ClientError as exc:
            if _missing(exc):
                raise FileNotFoundError(name) from exc
            raise _wrap(exc, "read", name) from exc
        except BotoCoreError as exc:
            raise _wrap(exc, "read", name) from exc

    def delete(self, name: str) -> None:
        """Best effort: every delete here removes a file no row names (a
        rolled-back mail's, a deleted ticket's), often in a cleanup path
        that must not turn into a new failure. One the store refused is
        logged and left to the orphan sweeper (cleanup_attachments)."""
        try:
            super().delete(name)
        except (BotoCoreError, ClientError) as exc:
            log.warning("%s (left for the orphan sweeper)", _wrap(exc, "delete", name))

    def exists(self, name: str) -> bool:
        try:
            return bool(super().exists(name))
        except (BotoCoreError, ClientError) as exc:
            raise _wrap(exc, "check", name) from exc

    def size(self, name: str) -> int:
        try:
            return int(super().size(name))
        except (BotoCoreError, ClientError) as exc:
            raise _wrap(exc, "size of", name) from exc

    def download_url(self, name: str, *, disposition: str, content_type: str) -> str:
        """A presigned GET, valid for querystring_expire seconds, whose answer
        carries our Content-Disposition and Content-Type whatever the object
        was stored with (S3's response-content-* overrides)."""
        return str(
            self.url(
                name,
                parameters={
                    "ResponseContentDisposition": disposition,
                    "ResponseContentType": content_type,
                    "ResponseCacheControl": "private, no-store",
                },
            )
        )

    def ping(self) -> None:
        """One HEAD on the bucket: reachable, and these credentials may use it."""
        try:
            self.connection.meta.client.head_bucket(Bucket=self.bucket_name)
        except (BotoCoreError, ClientError) as exc:
            raise _wrap(exc, "head", self.bucket_name) from exc

    def keys(self, prefix: str) -> list[tuple[str, int, float]]:
        """(name relative to this storage's location, size, last-modified
        epoch) of every object under prefix."""
        root = self._normalize_name(prefix)
        base = self._normalize_name("")
        start = f"{base.rstrip('/')}/" if base else ""
        found: list[tuple[str, int, float]] = []
        try:
            pages = self.connection.meta.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket_name, Prefix=root
            )
            for page in pages:
                for entry in page.get("Contents", ()):
                    name = entry["Key"].removeprefix(start)
                    found.append((name, int(entry["Size"]), entry["LastModified"].timestamp()))
        except (BotoCoreError, ClientError) as exc:
            raise _wrap(exc, "list", prefix) from exc
        return found

    def stream(self, name: str) -> Any:
        """The object's body as a file-like read straight from the store
        (nothing buffered: what a backup of large files needs)."""
        key = self._normalize_name(name)
        try:
            return self.connection.meta.client.get_object(Bucket=self.bucket_name, Key=key)["Body"]
        except ClientError as exc:
            if _missing(exc):
                raise FileNotFoundError(name) from exc
            raise _wrap(exc, "read", name) from exc
        except BotoCoreError as exc:
            raise _wrap(exc, "read", name) from exc
