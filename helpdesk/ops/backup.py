"""Backups: one .tar.gz per backup holding the database, attachments and raw mails.

The archive is written beside its final name and renamed into place only when
complete, so a crash never leaves a half archive that looks like a backup.
Layout inside the archive:
    database.sqlite3        SQLite: a consistent copy made with SQLite's online backup API
    database.pgdump         PostgreSQL: pg_dump --format=custom
    database.jsonl.gz       every row again, portable to the other engine (ops/portable.py),
                            read from the same snapshot as the native dump
    files/media/...         attachments
    files/raw/...           raw inbound mails (with HELPDESK_S3_BUCKET, both read
                            from the object store through the storage API)
    files.sha256            the sha256 of each file above (sha256sum's format)
    manifest.json           engine, migrations, rows per table, and the sha256 of each part
Restoring is ops/restore.py; keeping N daily and M weekly archives is ops/rotation.py.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from django.conf import settings
from django.db import connection, connections, transaction
from django.db.utils import load_backend
from django.utils import timezone

from config import objectstore
from helpdesk.ops import portable

# 2 added the portable rows, the per-table counts and the file checksums;
# restore reads 1 too (same database engine only).
FORMAT_VERSION = 2
MANIFEST = "manifest.json"
FILE_SUMS = "files.sha256"


def _media_root() -> Path:
    return Path(settings.MEDIA_ROOT)


def _raw_root() -> Path:
    return Path(settings.HELPDESK_RAW_DIR)


FILE_DIRS: dict[str, Callable[[], Path]] = {"media": _media_root, "raw": _raw_root}


@dataclass(frozen=True)
class StoredObject:
    """A file in the object store (HELPDESK_S3_BUCKET), read through the
    storage API: backups hold the bucket's attachments and raw mails as they
    hold the local folders, under the same names."""

    kind: str  # a FILE_DIRS key
    name: str  # relative to that kind's root, as the rows name it
    size: int
    mtime: float


def object_storage(kind: str) -> Any:
    """The object storage holding one kind of file (a config.s3.ObjectStorage)."""
    from django.core.files.storage import default_storage

    return objectstore.raw_storage() if kind == "raw" else default_storage


def _walk_objects() -> Iterator[tuple[StoredObject, str]]:
    # Attachments are the default storage's keys outside raw/ (its root is
    # the bucket's); raw mails the keys under it.
    listed = {
        "media": [e for e in object_storage("media").keys("") if not e[0].startswith("raw/")],
        "raw": object_storage("raw").keys(""),
    }
    for kind, entries in listed.items():
        for name, size, mtime in sorted(entries):
            yield StoredObject(kind, name, size, mtime), f"files/{kind}/{name}"


class BackupError(Exception):
    """A one-line, user-facing reason a backup or restore cannot go on."""


@dataclass(frozen=True)
class BackupInfo:
    path: Path
    size: int
    files: int


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _pg_env() -> dict[str, str]:
    db = connection.settings_dict
    env = dict(os.environ)
    env.update(
        {
            "PGHOST": str(db.get("HOST") or ""),
            "PGPORT": str(db.get("PORT") or ""),
            "PGUSER": str(db.get("USER") or ""),
            "PGPASSWORD": str(db.get("PASSWORD") or ""),
            "PGDATABASE": str(db["NAME"]),
        }
    )
    return {k: v for k, v in env.items() if v}


SNAPSHOT_ALIAS = "helpdesk_backup_snapshot"


@contextmanager
def _connection_alias(settings_dict: dict[str, Any]) -> Iterator[str]:
    """A Django connection, under an alias of its own, to settings_dict's database.

    Made directly rather than added to the configured databases: it is this
    backup's own connection, used by nothing else and closed at the end.
    """
    wrapper = load_backend(settings_dict["ENGINE"]).DatabaseWrapper(settings_dict, SNAPSHOT_ALIAS)
    connections[SNAPSHOT_ALIAS] = wrapper
    try:
        yield SNAPSHOT_ALIAS
    finally:
        try:
            wrapper.close()
        finally:
            del connections[SNAPSHOT_ALIAS]


@contextmanager
def _snapshot(workdir: Path) -> Iterator[tuple[Path, str]]:
    """The native dump, and a connection alias reading the very same snapshot.

    SQLite: the online backup API copies the database in one step under one
    read transaction (WAL lets the helpdesk keep writing meanwhile), and the
    portable rows are then read from that copy. PostgreSQL: a REPEATABLE
    READ transaction exports its snapshot, pg_dump dumps that snapshot
    (--snapshot) while the transaction reads the portable rows from it.
    Either way both parts hold exactly the same rows.
    """
    default = connection.settings_dict
    if connection.vendor == "sqlite":
        target = workdir / "database.sqlite3"
        source = sqlite3.connect(str(default["NAME"]))
        try:
            dest = sqlite3.connect(str(target))
            with dest:
                source.backup(dest)
            dest.close()
        finally:
            source.close()
        # Only reads, and no init_command: the copy's bytes must stay as copied.
        copy = {**default, "NAME": str(target), "OPTIONS": {}}
        with _connection_alias(copy) as alias:
            yield target, alias
        return
    if connection.vendor == "postgresql":
        if not shutil.which("pg_dump"):
            raise BackupError(
                "pg_dump is not installed (Debian: apt-get install postgresql-client)."
            )
        target = workdir / "database.pgdump"
        with _connection_alias(dict(default)) as alias, transaction.atomic(using=alias):
            with connections[alias].cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                cursor.execute("SELECT pg_export_snapshot()")
                snapshot = cursor.fetchone()[0]
            result = subprocess.run(
                [
                    "pg_dump",
                    "--format=custom",
                    "--no-owner",
                    f"--snapshot={snapshot}",
                    f"--file={target}",
                ],
                env=_pg_env(),
                capture_output=True,
                text=True,
            )
            if result.returncode:
                raise BackupError(f"pg_dump failed: {_last_line(result.stderr)}")
            yield target, alias
        return
    raise BackupError(f"Backups of {connection.vendor} databases are not supported.")


def _last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1] if lines else "(no message)"


def _walk_files() -> Iterator[tuple[Path | StoredObject, str]]:
    if objectstore.configured():
        yield from _walk_objects()
        return
    for name, root_of in FILE_DIRS.items():
        root = root_of()
        if root.is_dir():
            for path in sorted(root.rglob("*")):
                if path.is_file():
                    yield path, f"files/{name}/{path.relative_to(root)}"


def secret_key_id(key: str) -> str:
    """Names SECRET_KEY without revealing it (an HMAC of a constant), so that
    restore can tell whether the target has the key the data was made with:
    mailbox credentials are encrypted with it and reply addresses signed."""
    return hmac.new(key.encode(), b"helpdesk backup key id", hashlib.sha256).hexdigest()[:16]


class _HashingReader:
    """A file read by tarfile, hashed on the way: each file is read once."""

    def __init__(self, fh: BinaryIO) -> None:
        self.fh = fh
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.fh.read(size)
        self.digest.update(data)
        return data


def _add_file(tar: tarfile.TarFile, path: Path | StoredObject, arcname: str) -> str | None:
    """Add path to tar; its sha256, or None when it vanished since the walk."""
    if isinstance(path, StoredObject):
        return _add_object(tar, path, arcname)
    try:
        fh = path.open("rb")
    except FileNotFoundError:
        # The orphan sweeper removed it: no row of the snapshot names it.
        return None
    with fh:
        info = tar.gettarinfo(arcname=arcname, fileobj=fh)
        reader = _HashingReader(fh)
        # tarfile copies exactly info.size bytes: a file still growing is cut
        # where fstat saw it, and the sum covers the same bytes.
        tar.addfile(info, reader)  # type: ignore[arg-type]
        return reader.digest.hexdigest()


def _add_object(tar: tarfile.TarFile, item: StoredObject, arcname: str) -> str | None:
    """Stream one object into tar (names are never rewritten: its size
    from the listing is the size of what is read)."""
    try:
        fh = object_storage(item.kind).stream(item.name)
    except FileNotFoundError:
        return None  # swept as an orphan since the listing
    with contextlib.closing(fh):
        info = tarfile.TarInfo(arcname)
        info.size = item.size
        info.mtime = int(item.mtime)
        info.mode = 0o640
        reader = _HashingReader(fh)
        tar.addfile(info, reader)  # type: ignore[arg-type]
        return reader.digest.hexdigest()


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(timezone.now().timestamp())
    tar.addfile(info, io.BytesIO(data))


def create_backup(
    *,
    directory: Path,
    each_file: Callable[[Iterator[tuple[Path | StoredObject, str]], int], Iterator[Any]]
    | None = None,
) -> BackupInfo:
    """Write a new backup archive into directory and return where it is.

    each_file wraps the iteration over the files (a progress bar in a terminal).
    """
    directory.mkdir(parents=True, exist_ok=True)
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    final = directory / f"helpdesk-backup-{stamp}.tar.gz"
    # Another backup within the same second: a number after the time.
    number = 1
    while final.exists():
        number += 1
        final = directory / f"helpdesk-backup-{stamp}-{number}.tar.gz"
    with tempfile.TemporaryDirectory(dir=directory, prefix=".work-") as tmp:
        workdir = Path(tmp)
        rows_file = workdir / portable.NAME
        with _snapshot(workdir) as (dump, alias):
            tables = portable.write(rows_file, using=alias)
            migrations = portable.applied_migrations(using=alias)
        # The files are listed after the snapshot: a file is on disk (fsync'ed)
        # before the row naming it commits, so every file the snapshot names
        # is found. Files newer than the snapshot ride along unnamed, harmless.
        files = list(_walk_files())
        sums_file = workdir / FILE_SUMS
        partial = directory / f".{final.name}.partial"
        added = 0
        with tarfile.open(partial, "w:gz", compresslevel=6) as tar, sums_file.open("w") as sums:
            tar.add(dump, arcname=dump.name)
            tar.add(rows_file, arcname=rows_file.name)
            iterator = iter(files)
            for path, arcname in each_file(iterator, len(files)) if each_file else iterator:
                digest = _add_file(tar, path, arcname)
                if digest is not None:
                    sums.write(f"{digest}  {arcname}\n")
                    added += 1
            sums.close()
            tar.add(sums_file, arcname=FILE_SUMS)
            manifest = {
                "format": FORMAT_VERSION,
                "created": timezone.now().isoformat(),
                "vendor": connection.vendor,
                "database": {"name": dump.name, "sha256": _sha256(dump)},
                "portable": {"name": portable.NAME, "sha256": _sha256(rows_file)},
                "tables": tables,
                "rows": sum(table["rows"] for table in tables.values()),
                "migrations": migrations,
                "files": added,
                "file_sums": {"name": FILE_SUMS, "sha256": _sha256(sums_file)},
                "secret_key_id": secret_key_id(settings.SECRET_KEY),
            }
            # Last, so it can name the checksums of everything before it.
            _add_bytes(tar, MANIFEST, json.dumps(manifest, indent=2).encode())
        with partial.open("rb") as fh:
            os.fsync(fh.fileno())
        partial.rename(final)
    return BackupInfo(path=final, size=final.stat().st_size, files=added)
