"""Backups: one .tar.gz per backup holding the database, attachments and raw mails.

The archive is written beside its final name and renamed into place only when
complete, so a crash never leaves a half archive that looks like a backup.
Layout inside the archive:
    manifest.json           what is inside, with the sha256 of the database part
    database.sqlite3        SQLite: a consistent copy made with SQLite's online backup API
    database.pgdump         PostgreSQL: pg_dump --format=custom
    files/media/...         attachments
    files/raw/...           raw inbound mails
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

FORMAT_VERSION = 1


def _media_root() -> Path:
    return Path(settings.MEDIA_ROOT)


def _raw_root() -> Path:
    return Path(settings.HELPDESK_RAW_DIR)


FILE_DIRS: dict[str, Callable[[], Path]] = {"media": _media_root, "raw": _raw_root}


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
    db = settings.DATABASES["default"]
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


def _dump_database(workdir: Path) -> Path:
    if connection.vendor == "sqlite":
        target = workdir / "database.sqlite3"
        source = sqlite3.connect(str(settings.DATABASES["default"]["NAME"]))
        try:
            dest = sqlite3.connect(str(target))
            with dest:
                source.backup(dest)
            dest.close()
        finally:
            source.close()
        return target
    if connection.vendor == "postgresql":
        if not shutil.which("pg_dump"):
            raise BackupError(
                "pg_dump is not installed (Debian: apt-get install postgresql-client)."
            )
        target = workdir / "database.pgdump"
        result = subprocess.run(
            ["pg_dump", "--format=custom", "--no-owner", f"--file={target}"],
            env=_pg_env(),
            capture_output=True,
            text=True,
        )
        if result.returncode:
            raise BackupError(f"pg_dump failed: {result.stderr.strip().splitlines()[-1:]}")
        return target
    raise BackupError(f"Backups of {connection.vendor} databases are not supported.")


def _walk_files() -> Iterator[tuple[Path, str]]:
    for name, root_of in FILE_DIRS.items():
        root = root_of()
        if root.is_dir():
            for path in sorted(root.rglob("*")):
                if path.is_file():
                    yield path, f"files/{name}/{path.relative_to(root)}"


def create_backup(
    *,
    directory: Path,
    each_file: Callable[[Iterator[tuple[Path, str]], int], Iterator[Any]] | None = None,
) -> BackupInfo:
    """Write a new backup archive into directory and return where it is.

    each_file wraps the iteration over the files (a progress bar in a terminal).
    """
    directory.mkdir(parents=True, exist_ok=True)
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    final = directory / f"helpdesk-backup-{stamp}.tar.gz"
    if final.exists():
        raise BackupError(f"{final} already exists; wait a second and try again.")
    files = list(_walk_files())
    with tempfile.TemporaryDirectory(dir=directory, prefix=".work-") as tmp:
        workdir = Path(tmp)
        dump = _dump_database(workdir)
        manifest = {
            "format": FORMAT_VERSION,
            "created": timezone.now().isoformat(),
            "vendor": connection.vendor,
            "database": {"name": dump.name, "sha256": _sha256(dump)},
            "files": len(files),
        }
        partial = directory / f".{final.name}.partial"
        with tarfile.open(partial, "w:gz") as tar:
            data = json.dumps(manifest, indent=2).encode()
            info = tarfile.TarInfo("manifest.json")
            info.size = len(data)
            info.mtime = int(timezone.now().timestamp())
            with tempfile.TemporaryFile() as fh:
                fh.write(data)
                fh.seek(0)
                tar.addfile(info, fh)
            tar.add(dump, arcname=dump.name)
            iterator = iter(files)
            for path, arcname in each_file(iterator, len(files)) if each_file else iterator:
                tar.add(path, arcname=arcname)
        with partial.open("rb") as fh:
            os.fsync(fh.fileno())
        partial.rename(final)
    return BackupInfo(path=final, size=final.stat().st_size, files=len(files))


def _database_has_data() -> bool:
    from tickets.models import Ticket

    try:
        return Ticket.objects.exists()
    except Exception:  # no tables yet: an empty target
        return False


def _files_present() -> bool:
    return any(True for _ in _walk_files())


def _safe_members(tar: tarfile.TarFile) -> list[tarfile.TarInfo]:
    members = []
    for member in tar.getmembers():
        name = member.name
        if (
            name.startswith("/")
            or ".." in Path(name).parts
            or not (member.isfile() or member.isdir())
        ):
            raise BackupError(f"The archive holds an unsafe entry: {name!r}.")
        members.append(member)
    return members


def restore_backup(
    *,
    archive: Path,
    force: bool,
    each_file: Callable[[Iterator[tarfile.TarInfo], int], Iterator[Any]] | None = None,
) -> dict[str, Any]:
    """Restore archive over the configured database and data dir.

    Refuses a target that already holds tickets or files unless force is set.
    Stop the web, smtp and worker processes first.
    """
    if not archive.is_file():
        raise BackupError(f"No backup at {archive}.")
    if not force and (_database_has_data() or _files_present()):
        raise BackupError(
            "The target is not empty (it has tickets or files); use --force to overwrite it."
        )
    try:
        tar = tarfile.open(archive, "r:gz")  # noqa: SIM115  (closed by the with below)
    except (tarfile.TarError, OSError) as exc:
        raise BackupError(f"{archive} is not a helpdesk backup: {exc}") from None
    with tar, tempfile.TemporaryDirectory(dir=settings.DATA_DIR, prefix=".restore-") as tmp:
        members = _safe_members(tar)
        try:
            manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
        except (KeyError, ValueError):
            raise BackupError(f"{archive} has no valid manifest.json.") from None
        if manifest.get("format") != FORMAT_VERSION:
            raise BackupError(f"Unsupported backup format {manifest.get('format')!r}.")
        if manifest["vendor"] != connection.vendor:
            raise BackupError(
                f"This backup is of a {manifest['vendor']} database; "
                f"the target is {connection.vendor}."
            )
        db_name = manifest["database"]["name"]
        tar.extract(db_name, tmp, filter="data")
        dump = Path(tmp) / db_name
        if _sha256(dump) != manifest["database"]["sha256"]:
            raise BackupError("The database part of the backup is corrupt (checksum mismatch).")
        _restore_database(dump)
        file_members = [m for m in members if m.isfile() and m.name.startswith("files/")]
        for root_of in FILE_DIRS.values():
            if force and root_of().is_dir():
                shutil.rmtree(root_of())
        iterator = iter(file_members)
        for member in each_file(iterator, len(file_members)) if each_file else iterator:
            _, kind, rest = member.name.split("/", 2)
            target_root = FILE_DIRS[kind]()
            source = tar.extractfile(member)
            if source is None:
                continue
            target = target_root / rest
            target.parent.mkdir(parents=True, exist_ok=True)
            with source, target.open("wb") as out:
                shutil.copyfileobj(source, out)
    result: dict[str, Any] = manifest
    return result


def _restore_database(dump: Path) -> None:
    connection.close()
    if connection.vendor == "sqlite":
        target = Path(str(settings.DATABASES["default"]["NAME"]))
        source = sqlite3.connect(str(dump))
        try:
            dest = sqlite3.connect(str(target))
            with dest:
                source.backup(dest)
            dest.close()
        finally:
            source.close()
        return
    if not shutil.which("pg_restore"):
        raise BackupError(
            "pg_restore is not installed (Debian: apt-get install postgresql-client)."
        )
    result = subprocess.run(
        [
            "pg_restore",
            "--clean",
            "--if-exists",
            "--no-owner",
            "--single-transaction",
            f"--dbname={settings.DATABASES['default']['NAME']}",
            str(dump),
        ],
        env=_pg_env(),
        capture_output=True,
        text=True,
    )
    if result.returncode:
        raise BackupError(f"pg_restore failed: {result.stderr.strip().splitlines()[-1:]}")
