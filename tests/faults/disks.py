"""Disks the fault suites break: a small tmpfs that fills up (F4) and a
loop-mounted ext4 where a file is made immutable (F3: the database
unwritable). Both need root to mount; the test skips where it cannot."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


def _mount(args: list[str], path: Path) -> None:
    path.mkdir()
    mounted = subprocess.run(["mount", *args, str(path)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount here (needs root): {mounted.stderr.decode().strip()}")


@contextlib.contextmanager
def small_tmpfs(path: Path, size: str) -> Iterator[Path]:
    _mount(["-t", "tmpfs", "-o", f"size={size}", "tmpfs"], path)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(path: Path) -> Path:
    """Write until the disk is full."""
    filler = path / "filler"
    with filler.open("wb") as f, contextlib.suppress(OSError):
        while True:
            f.write(b"\0" * 65536)
            f.flush()
    return filler


@contextlib.contextmanager
def loop_ext4(path: Path, size_mb: int = 64) -> Iterator[Path]:
    """An ext4 file system of its own (an image on a loop device), where
    `chattr +i` makes a file unwritable even through descriptors already
    open (Linux 5.3+), and `chattr -i` gives it back, live."""
    image = path.with_suffix(".img")
    with image.open("wb") as f:
        f.truncate(size_mb * 1024 * 1024)
    made = subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"cannot make an ext4 image: {made.stderr.decode().strip()}")
    _mount(["-o", "loop", str(image)], path)
    try:
        yield path
    finally:
        for file in path.iterdir():
            subprocess.run(["chattr", "-i", str(file)], check=False, capture_output=True)
        subprocess.run(["umount", "-l", "-d", str(path)], check=False)
        image.unlink(missing_ok=True)


def set_immutable(files: list[Path], on: bool) -> None:
    subprocess.run(["chattr", "+i" if on else "-i", *map(str, files)], check=True)
