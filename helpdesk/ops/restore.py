"""Restoring a backup (ops/backup.py) into the configured database and data dir.

Same database engine as the backup: the native dump goes back as it was
taken (SQLite's file, pg_restore). The other engine (SQLite to PostgreSQL
or back): the empty target is migrated, the portable rows are loaded in
one transaction, the id sequences are moved past them and the search index
is rebuilt. Either way restore then checks what it restored against the
manifest (each part's sha256, the rows of every table, the reference
counters, each file's sha256) and reports each check in one line, and
last whether this install has the SECRET_KEY the backup was made with.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from pathlib import Path
from typing import IO, Any

from django.apps import apps
from django.conf import settings
from django.core.files import File
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from config import objectstore
from helpdesk.ops import portable
from helpdesk.ops.backup import (
    FILE_DIRS,
    FILE_SUMS,
    MANIFEST,
    BackupError,
    _last_line,
    _pg_env,
    _sha256,
    _walk_files,
    object_storage,
    secret_key_id,
)
from tickets import search_schema
from tickets.references import counter_status

Say = Callable[[str], None]
FORMATS = (1, 2)


def _database_has_data() -> bool:
    from tickets.models import Ticket

    try:
        return Ticket.objects.exists()
    except DatabaseError:  # no tables yet: an empty target
        return False


def _files_present() -> bool:
    return any(True for _ in _walk_files())


def safe_members(tar: tarfile.TarFile) -> list[tarfile.TarInfo]:
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


def open_archive(archive: Path) -> tarfile.TarFile:
    """The archive opened for reading (the caller closes it), or BackupError."""
    if not archive.is_file():
        raise BackupError(f"No backup at {archive}.")
    try:
        return tarfile.open(archive, "r:gz")
    except (tarfile.TarError, OSError) as exc:
        raise BackupError(f"{archive} is not a helpdesk backup: {exc}") from None


def read_manifest(tar: tarfile.TarFile, archive: Path) -> dict[str, Any]:
    try:
        manifest: dict[str, Any] = json.load(tar.extractfile(MANIFEST))  # type: ignore[arg-type]
    except (KeyError, ValueError):
        raise BackupError(f"{archive} has no valid {MANIFEST}.") from None
    if manifest.get("format") not in FORMATS:
        raise BackupError(f"Unsupported backup format {manifest.get('format')!r}.")
    return manifest


def restore_backup(
    *,
    archive: Path,
    force: bool,
    each_file: Callable[[Iterator[tarfile.TarInfo], int], Iterator[Any]] | None = None,
    each_row: portable.Progress | None = None,
    say: Say | None = None,
) -> dict[str, Any]:
    """Restore archive over the configured database and data dir; its manifest.

    Refuses a target that already holds tickets or files unless force is
    set. Stop the web, smtp and worker processes first. say() receives one
    line per check made; each_file and each_row wrap the long loops (a
    progress bar in a terminal).
    """
    report: Say = say or (lambda line: None)
    if not archive.is_file():
        raise BackupError(f"No backup at {archive}.")
    if not force and (_database_has_data() or _files_present()):
        raise BackupError(
            "The target is not empty (it has tickets or files); use --force to overwrite it."
        )
    tar = open_archive(archive)
    Path(settings.DATA_DIR).mkdir(parents=True, exist_ok=True)
    with tar, tempfile.TemporaryDirectory(dir=settings.DATA_DIR, prefix=".restore-") as tmp:
        members = safe_members(tar)
        manifest = read_manifest(tar, archive)
        workdir = Path(tmp)
        if manifest["vendor"] == connection.vendor:
            _restore_native(tar, manifest, workdir, report)
        else:
            _restore_portable(tar, manifest, workdir, each_row, report)
        _restore_files(tar, members, manifest, workdir, force, each_file, report)
        if "secret_key_id" in manifest:
            report(_check_secret_key(manifest["secret_key_id"]))
    result: dict[str, Any] = manifest
    return result


def extract_checked(tar: tarfile.TarFile, part: dict[str, str], workdir: Path) -> Path:
    """Extract one part of the archive and check its sha256 against the manifest."""
    try:
        tar.extract(part["name"], workdir, filter="data")
    except KeyError:
        raise BackupError(f"The backup has no {part['name']}, which its manifest names.") from None
    path = workdir / part["name"]
    if _sha256(path) != part["sha256"]:
        raise BackupError(f"The backup's {part['name']} is corrupt (checksum mismatch).")
    return path


def _restore_native(
    tar: tarfile.TarFile, manifest: dict[str, Any], workdir: Path, report: Say
) -> None:
    dump = extract_checked(tar, manifest["database"], workdir)
    _restore_database(dump)
    report(
        f"Database: {dump.name} matches its sha256 and was restored as dumped "
        f"({connection.vendor} to {connection.vendor})."
    )
    if "tables" in manifest:
        try:
            report(_check_tables(manifest["tables"]))
        except DatabaseError:
            report(
                "Rows: not counted, this version's tables differ from the backup's; "
                "run `manage.py migrate`, then check again."
            )
            return
    report(_check_counters())


def _restore_portable(
    tar: tarfile.TarFile,
    manifest: dict[str, Any],
    workdir: Path,
    each_row: portable.Progress | None,
    report: Say,
) -> None:
    source, target = manifest["vendor"], connection.vendor
    if "portable" not in manifest:
        raise BackupError(
            f"This backup is of a {source} database and has no portable part (an older "
            f"format); restore it into {source}, then take a new backup to move to {target}."
        )
    rows_file = extract_checked(tar, manifest["portable"], workdir)
    call_command("migrate", interactive=False, verbosity=0)
    here = portable.applied_migrations(using=connection.alias)
    if here != manifest["migrations"]:
        only_backup = sorted(set(manifest["migrations"]) - set(here))
        only_here = sorted(set(here) - set(manifest["migrations"]))
        raise BackupError(
            "The backup was taken by another version of the helpdesk (migrations only in the "
            f"backup: {', '.join(only_backup[:3]) or '-'}; only here: "
            f"{', '.join(only_here[:3]) or '-'}); restore it with the version that made it."
        )
    lines = [
        f"Database: {rows_file.name} matches its sha256; loaded into an empty, migrated "
        f"{target} database ({source} to {target}, {len(here)} migrations as in the backup)."
    ]
    try:
        # One transaction: foreign keys are checked at its end (Django makes
        # them deferrable on both engines), and a failed check leaves the
        # target as empty as it was.
        with transaction.atomic():
            portable.empty_tables(using=connection.alias)
            with search_schema.insert_triggers_off(connection.alias):
                portable.load(
                    rows_file, using=connection.alias, total=manifest["rows"], each_row=each_row
                )
            connection.check_constraints()
            lines.append(_check_tables(manifest["tables"]))
            lines.append(_check_counters())
            sequences = portable.reset_sequences(using=connection.alias)
            indexed = search_schema.reindex(connection.alias)
    except (DatabaseError, portable.PortableError) as exc:
        raise BackupError(f"The backup's rows do not load here: {exc}") from None
    if connection.vendor == "postgresql":
        # What autovacuum would do some minutes later: statistics for the
        # planner, which has none for tables that were empty a moment ago.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        lines.append("Planner statistics: ANALYZE run over the loaded tables.")
    if sequences:
        lines.append(f"Sequences: {sequences} id sequences moved past the loaded rows.")
    lines.append(f"Search index: rebuilt for {indexed} tickets.")
    for line in lines:
        report(line)


def _check_tables(expected: dict[str, dict[str, Any]]) -> str:
    """Every table holds the rows the manifest lists: as many, with the same
    content checksum (or BackupError)."""
    wrong = []
    for label, want in expected.items():
        try:
            model = apps.get_model(label)
        except LookupError:
            wrong.append(f"{label} is unknown here")
            continue
        found = portable.table_summary(model, using=connection.alias)
        if found["rows"] != want["rows"]:
            wrong.append(f"{label} has {found['rows']} rows of {want['rows']}")
        elif found["sha256"] != want["sha256"]:
            wrong.append(f"{label} has other content")
    if wrong:
        raise BackupError("The tables differ from the backup's manifest: " + "; ".join(wrong))
    rows = sum(want["rows"] for want in expected.values())
    return (
        f"Rows: {len(expected)} tables, {rows} rows; every count and content checksum "
        "matches the manifest."
    )


def _check_counters() -> str:
    """No reference counter is behind its year's tickets (or BackupError)."""
    status = counter_status(using=connection.alias)
    behind = [
        f"{year}: at {last}, tickets up to {high}" for year, last, high in status if last < high
    ]
    if behind:
        raise BackupError("Reference counters are behind their tickets: " + "; ".join(behind))
    years = ", ".join(f"{year} at {last}" for year, last, _ in status) or "none yet"
    return f"Reference counters: {years}; none behind its tickets."


def _check_secret_key(backup_id: str) -> str:
    """Whether this install has the SECRET_KEY the backup's data was made
    with. Not an error: every row is there, but without that key the stored
    mailbox passwords cannot be decrypted and the reply addresses in mails
    already sent no longer verify."""
    if secret_key_id(settings.SECRET_KEY) == backup_id:
        return "Secret key: the backup's, so mailbox passwords and reply addresses carry over."
    if any(secret_key_id(key) == backup_id for key in settings.SECRET_KEY_FALLBACKS):
        return "Secret key: the backup's is in SECRET_KEY_FALLBACKS, so its secrets carry over."
    return (
        "Secret key: NOT the backup's. Stored mailbox passwords cannot be decrypted and "
        "reply addresses in mails already sent do not verify until the old install's key "
        "(its SECRET_KEY, or the file <data dir>/secret_key) is SECRET_KEY here or is "
        "listed in SECRET_KEY_FALLBACKS."
    )


class Sums:
    """files.sha256 read in step with the archive: both list the files in one order."""

    def __init__(self, fh: IO[str] | None) -> None:
        self.fh = fh

    def expect(self, name: str) -> str | None:
        if self.fh is None:
            return None
        digest, _, listed = self.fh.readline().rstrip("\n").partition("  ")
        return digest if listed == name else ""

    def leftover(self) -> int:
        return 0 if self.fh is None else sum(1 for line in self.fh if line.strip())


def _restore_files(
    tar: tarfile.TarFile,
    members: list[tarfile.TarInfo],
    manifest: dict[str, Any],
    workdir: Path,
    force: bool,
    each_file: Callable[[Iterator[tarfile.TarInfo], int], Iterator[Any]] | None,
    report: Say,
) -> None:
    sums_path = (
        extract_checked(tar, manifest["file_sums"], workdir) if "file_sums" in manifest else None
    )
    file_members = [m for m in members if m.isfile() and m.name.startswith("files/")]
    # In the object store a restored name overwrites its object; the others
    # are left, and swept as orphans once no restored row names them.
    for root_of in FILE_DIRS.values():
        if force and not objectstore.configured() and root_of().is_dir():
            shutil.rmtree(root_of())
    wrong: list[str] = []
    kinds = dict.fromkeys(FILE_DIRS, 0)
    names = {"media": "attachments", "raw": "raw mails"}
    with sums_path.open() if sums_path else nullcontext() as sums_fh:
        sums = Sums(sums_fh)
        iterator = iter(file_members)
        for member in each_file(iterator, len(file_members)) if each_file else iterator:
            _, kind, rest = member.name.split("/", 2)
            if kind not in FILE_DIRS:
                raise BackupError(f"The archive holds an unknown kind of file: {member.name!r}.")
            source = tar.extractfile(member)
            if source is None:
                continue
            digest = hashlib.sha256()
            if objectstore.configured():
                _restore_object(kind, rest, source, digest)
            else:
                target = FILE_DIRS[kind]() / rest
                target.parent.mkdir(parents=True, exist_ok=True)
                with source, target.open("wb") as out:
                    while chunk := source.read(1 << 20):
                        digest.update(chunk)
                        out.write(chunk)
            expected = sums.expect(member.name)
            if expected is not None and expected != digest.hexdigest():
                wrong.append(member.name)
            kinds[kind] += 1
        unlisted = sums.leftover()
    if wrong or unlisted:
        raise BackupError(
            f"{len(wrong)} restored files differ from {FILE_SUMS} (first: "
            f"{wrong[0] if wrong else '-'}) and {unlisted} listed files are not in the archive."
        )
    restored = sum(kinds.values())
    if restored != manifest["files"]:
        raise BackupError(f"Restored {restored} files; the manifest lists {manifest['files']}.")
    what = ", ".join(f"{names.get(kind, kind)} {count}" for kind, count in kinds.items())
    if sums_path is None:
        report(f"Files: {restored} restored ({what}); this backup's format has no checksums.")
    else:
        report(f"Files: {restored} restored ({what}); every sha256 matches {FILE_SUMS}.")


def _restore_object(kind: str, name: str, source: IO[bytes], digest: Any) -> None:
    """One archived file into the object store, under its own name. Copied
    to a spooled file first: the upload may read it twice (a retry), and
    seeking back in a .tar.gz decompresses it again from the start."""
    with source, tempfile.SpooledTemporaryFile(max_size=8 << 20) as spool:
        while chunk := source.read(1 << 20):
            digest.update(chunk)
            spool.write(chunk)
        spool.seek(0)
        saved = object_storage(kind).save(name, File(spool, name=name))
    if saved != name:
        raise BackupError(f"The object store saved {name!r} as {saved!r}.")


def _restore_database(dump: Path) -> None:
    connection.close()
    if connection.vendor == "sqlite":
        target = Path(str(connection.settings_dict["NAME"]))
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
            f"--dbname={connection.settings_dict['NAME']}",
            str(dump),
        ],
        env=_pg_env(),
        capture_output=True,
        text=True,
    )
    if result.returncode:
        raise BackupError(f"pg_restore failed: {_last_line(result.stderr)}")
