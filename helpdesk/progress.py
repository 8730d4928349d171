"""A progress bar for long commands: drawn on a terminal, silent under cron."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import TextIO, TypeVar

T = TypeVar("T")


def progress(
    items: Iterable[T], *, total: int | None, label: str, stream: TextIO | None = None
) -> Iterator[T]:
    """Yield items, redrawing "label [####    ] n/total" at most ~10 times a second."""
    out = stream or sys.stderr
    if not out.isatty():
        yield from items
        return
    last = 0.0
    done = 0
    for done, item in enumerate(items, start=1):
        yield item
        now = time.monotonic()
        if now - last > 0.1 or done == total:
            last = now
            if total:
                filled = int(30 * done / total)
                out.write(f"\r{label} [{'#' * filled}{' ' * (30 - filled)}] {done}/{total}")
            else:
                out.write(f"\r{label} {done}")
            out.flush()
    if done:
        out.write("\n")
