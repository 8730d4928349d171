"""Checking a backup archive without restoring it: `restore --check`.

Reads the archive once per part and touches no database or data dir: each
part's sha256 against the manifest, the portable rows of every table
against the manifest's counts and checksums, and every file against
files.sha256. What a nightly job or an operator about to move an install
runs to know the archive would restore.
"""

from __future__ import annotations

import hashlib
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from helpdesk.ops import portable
from helpdesk.ops.backup import FILE_SUMS, BackupError
from helpdesk.ops.restore import (
    Say,
    Sums,
    extract_checked,
    open_archive,
    read_manifest,
    safe_members,
)


def check_backup(
    *,
    archive: Path,
    each_file: Callable[[Iterator[tarfile.TarInfo], int], Iterator[Any]] | None = None,
    say: Say | None = None,
) -> dict[str, Any]:
    """Check archive's parts, rows and files against its manifest; the manifest.

    Raises BackupError at the first part that does not match.
    """
    report: Say = say or (lambda line: None)
    with open_archive(archive) as tar, tempfile.TemporaryDirectory(prefix="helpdesk-check-") as tmp:
        workdir = Path(tmp)
        members = safe_members(tar)
        manifest = read_manifest(tar, archive)
        dump = extract_checked(tar, manifest["database"], workdir)
        report(f"Database: {dump.name} ({manifest['vendor']}) matches its sha256.")
        dump.unlink()  # a large file: gone before the next part comes out
        if "portable" in manifest:
            rows_file = extract_checked(tar, manifest["portable"], workdir)
            try:
                rows = portable.verify(rows_file, manifest["tables"])
            except portable.PortableError as exc:
                raise BackupError(str(exc)) from None
            report(
                f"Rows: {rows_file.name} matches its sha256; {len(manifest['tables'])} tables, "
                f"{rows} rows, every count and content checksum matches the manifest."
            )
        else:
            report(
                "Rows: this backup's format has no portable part (it restores into "
                f"{manifest['vendor']} only)."
            )
        report(_check_files(tar, members, manifest, workdir, each_file))
    return manifest


def _check_files(
    tar: tarfile.TarFile,
    members: list[tarfile.TarInfo],
    manifest: dict[str, Any],
    workdir: Path,
    each_file: Callable[[Iterator[tarfile.TarInfo], int], Iterator[Any]] | None,
) -> str:
    file_members = [m for m in members if m.isfile() and m.name.startswith("files/")]
    if len(file_members) != manifest["files"]:
        raise BackupError(
            f"The archive holds {len(file_members)} files; the manifest lists {manifest['files']}."
        )
    if "file_sums" not in manifest:
        return f"Files: {len(file_members)}, as the manifest says (this format has no checksums)."
    sums_path = extract_checked(tar, manifest["file_sums"], workdir)
    wrong: list[str] = []
    with sums_path.open() as sums_fh:
        sums = Sums(sums_fh)
        iterator = iter(file_members)
        for member in each_file(iterator, len(file_members)) if each_file else iterator:
            source = tar.extractfile(member)
            digest = hashlib.sha256()
            if source is not None:
                with source:
                    while chunk := source.read(1 << 20):
                        digest.update(chunk)
            if sums.expect(member.name) != digest.hexdigest():
                wrong.append(member.name)
        unlisted = sums.leftover()
    if wrong or unlisted:
        raise BackupError(
            f"{len(wrong)} files differ from {FILE_SUMS} (first: {wrong[0] if wrong else '-'}) "
            f"and {unlisted} listed files are not in the archive."
        )
    return f"Files: {len(file_members)}, every sha256 matches {FILE_SUMS}."
