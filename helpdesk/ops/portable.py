"""The portable part of a backup: every model's rows as gzipped JSON lines.

A native dump (SQLite file, pg_dump) restores only into the same database
engine; this part restores into either, which is how an install moves from
SQLite to PostgreSQL (and back). It is written and read as a stream, a
batch at a time, so a large install is never held in memory.

Layout of database.jsonl.gz, one JSON document per line:
    {"model": "tickets.ticket", "fields": ["id", "reference", ...]}
    [1, "HD-2026-0001", ...]            a row, values in the order of "fields"
    ...                                 then the next model's header and rows
Models come in dependency order (a row's foreign keys point at models
already written), auto-created many-to-many tables included. Values are
what the ORM reads, encoded without loss: datetimes keep their
microseconds and offset (Django's own JSON encoder drops microseconds),
bytes are base64, durations ISO 8601; field.to_python() reads them back.
"""

from __future__ import annotations

import base64
import datetime
import gzip
import hashlib
import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.apps import apps
from django.core.management.color import no_style
from django.db import connections, models
from django.utils.duration import duration_iso_string

NAME = "database.jsonl.gz"
# Rows read per query and written per INSERT: big enough to be fast, small
# enough that a batch of long message bodies stays a few megabytes.
BATCH = 500

Row = list[Any]
Loaded = tuple[type[models.Model], list[str], Row]
Progress = Callable[[Iterator[Loaded], int], Iterator[Loaded]]


class PortableError(Exception):
    """The portable part cannot be loaded into this database (one line)."""


def dumped_models() -> list[type[models.Model]]:
    """Every model with its own table, parents before the models pointing at them.

    Foreign keys that form a cycle (or point at their own model) cannot all
    come first; restore defers foreign key checks to the commit, so their
    order within the transaction does not matter, only the count of rows.
    """
    candidates = [
        model
        for model in apps.get_models(include_auto_created=True)
        if model._meta.managed and not model._meta.proxy and not model._meta.swapped
    ]
    ordered: list[type[models.Model]] = []
    state: dict[type[models.Model], str] = {}

    def visit(model: type[models.Model]) -> None:
        if state.get(model):
            return  # done, or on the current path (a cycle)
        state[model] = "visiting"
        for field in model._meta.concrete_fields:
            target = field.related_model if field.is_relation else None
            if isinstance(target, type) and target in candidates and target is not model:
                visit(target)
        state[model] = "done"
        ordered.append(model)

    for model in sorted(candidates, key=lambda m: m._meta.label_lower):
        visit(model)
    return ordered


def stored_fields(model: type[models.Model]) -> list[models.Field[Any, Any]]:
    """The columns a row is written with: generated columns are the database's own."""
    return [field for field in model._meta.concrete_fields if not field.generated]


def _encode(value: Any) -> Any:
    """JSON for the values json cannot write itself (json.dumps default=)."""
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return duration_iso_string(value)
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, bytes | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    raise TypeError(f"Cannot write a {type(value).__name__} to a portable backup.")


def _lines(model: type[models.Model], *, using: str) -> Iterator[str]:
    """Each row of model as its JSON line (dict keys sorted: PostgreSQL's
    jsonb does not keep the order SQLite does)."""
    fields = [field.attname for field in stored_fields(model)]
    rows = model._base_manager.using(using).order_by("pk").values_list(*fields).iterator(BATCH)
    for row in rows:
        yield json.dumps(row, default=_encode, ensure_ascii=False, sort_keys=True)


class _Checksum:
    """A sha256 of a table's rows that ignores their order: the sum of the
    rows' digests. Text primary keys sort differently on the two engines
    (PostgreSQL follows the locale), so a running hash of ordered rows
    would differ where the rows do not."""

    def __init__(self) -> None:
        self.total = 0

    def add(self, line: str) -> None:
        self.total += int.from_bytes(hashlib.sha256(line.encode()).digest(), "big")

    def hexdigest(self) -> str:
        return f"{self.total % (1 << 256):064x}"


def write(path: Path, *, using: str) -> dict[str, dict[str, Any]]:
    """Write every model's rows read through connection `using` to path.

    The caller holds `using` at one consistent snapshot. Returns, by model
    label, the rows written and their checksum, for the manifest.
    """
    tables: dict[str, dict[str, Any]] = {}
    with gzip.open(path, "wt", encoding="utf-8", newline="\n", compresslevel=6) as out:
        for model in dumped_models():
            fields = [field.attname for field in stored_fields(model)]
            label = model._meta.label_lower
            out.write(json.dumps({"model": label, "fields": fields}) + "\n")
            count, checksum = 0, _Checksum()
            for line in _lines(model, using=using):
                out.write(line + "\n")
                checksum.add(line)
                count += 1
            tables[label] = {"rows": count, "sha256": checksum.hexdigest()}
    return tables


def table_summary(model: type[models.Model], *, using: str) -> dict[str, Any]:
    """The rows of model in connection `using` and their checksum, as write() reports them."""
    count, checksum = 0, _Checksum()
    for line in _lines(model, using=using):
        checksum.add(line)
        count += 1
    return {"rows": count, "sha256": checksum.hexdigest()}


def _read(path: Path) -> Iterator[Loaded]:
    """(model, its field names, row) for each row of path."""
    model: type[models.Model] | None = None
    fields: list[str] = []
    with gzip.open(path, "rt", encoding="utf-8", newline="\n") as source:
        for line in source:
            item = json.loads(line)
            if isinstance(item, dict):
                try:
                    model = apps.get_model(item["model"])
                except LookupError:
                    raise PortableError(
                        f"The backup has rows of {item['model']}, which this version of the "
                        "helpdesk does not know; restore it with the version that made it."
                    ) from None
                fields = list(item["fields"])
            elif model is None:
                raise PortableError(f"{NAME} does not start with a model header.")
            else:
                yield model, fields, item


def _converters(model: type[models.Model], names: list[str]) -> list[models.Field[Any, Any]]:
    by_attname = {field.attname: field for field in stored_fields(model)}
    unknown = [name for name in names if name not in by_attname]
    missing = [name for name in by_attname if name not in names]
    if unknown or missing:
        raise PortableError(
            f"The columns of {model._meta.label_lower} differ from this version's "
            f"(unknown: {', '.join(unknown) or '-'}; missing: {', '.join(missing) or '-'}); "
            "restore with the version of the helpdesk that made the backup."
        )
    return [by_attname[name] for name in names]


def load(path: Path, *, using: str, total: int, each_row: Progress | None = None) -> dict[str, int]:
    """Insert every row of path into connection `using`, whose tables are empty.

    Runs in the caller's transaction. Rows go in as they are (raw inserts:
    no save(), no signals, auto_now fields keep their stored times): a
    COPY per table on PostgreSQL, a batch per INSERT on SQLite. Returns the
    rows loaded per model.
    """
    connection = connections[using]
    assert connection.in_atomic_block, "load() needs a transaction (foreign keys are deferred)"
    counts: dict[str, int] = {}
    batch: list[models.Model] = []
    current: type[models.Model] | None = None
    fields: list[models.Field[Any, Any]] = []
    limit = BATCH

    def flush() -> None:
        if batch and current is not None:
            current._base_manager.using(using)._insert(  # type: ignore[attr-defined]
                batch, fields=fields, using=using, raw=True
            )
            batch.clear()

    rows = _read(path)
    if connection.vendor == "postgresql":
        return _load_by_copy(each_row(rows, total) if each_row else rows, using=using)
    for model, names, row in each_row(rows, total) if each_row else rows:
        if model is not current:
            flush()
            current = model
            fields = _converters(model, names)
            # SQLite caps the parameters of one statement (999 for Django).
            limit = max(1, min(BATCH, connection.ops.bulk_batch_size(fields, [None] * BATCH)))
            counts.setdefault(model._meta.label_lower, 0)
        values = {
            field.attname: field.to_python(value) for field, value in zip(fields, row, strict=True)
        }
        batch.append(model(**values))
        counts[model._meta.label_lower] += 1
        if len(batch) >= limit:
            flush()
    flush()
    return counts


def _load_by_copy(rows: Iterator[Loaded], *, using: str) -> dict[str, int]:
    """PostgreSQL: one COPY per table with its rows streamed in, several
    times faster than INSERTs of a few hundred rows each. Values are
    prepared as an INSERT would prepare them (get_db_prep_save)."""
    connection = connections[using]
    quote = connection.ops.quote_name
    counts: dict[str, int] = {}
    current: type[models.Model] | None = None
    fields: list[models.Field[Any, Any]] = []
    with connection.cursor() as cursor, ExitStack() as stack:
        copy: Any = None
        for model, names, row in rows:
            if model is not current:
                stack.close()  # ends the previous table's COPY
                current = model
                fields = _converters(model, names)
                columns = ", ".join(quote(field.column) for field in fields)
                table = quote(model._meta.db_table)
                copy = stack.enter_context(
                    cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN")
                )
                counts.setdefault(model._meta.label_lower, 0)
            copy.write_row(
                [
                    field.get_db_prep_save(field.to_python(value), connection)
                    for field, value in zip(fields, row, strict=True)
                ]
            )
            counts[model._meta.label_lower] += 1
    return counts


def empty_tables(*, using: str) -> None:
    """Delete every row of every model table (the rows `migrate` made: content
    types, permissions), so the backup's rows go in with their own ids."""
    connection = connections[using]
    tables = [model._meta.db_table for model in dumped_models()]
    statements = connection.ops.sql_flush(no_style(), tables, allow_cascade=True)
    connection.ops.execute_sql_flush(statements)


def reset_sequences(*, using: str) -> int:
    """Move each id sequence past the loaded ids (PostgreSQL; SQLite needs
    none), so the next ticket or message does not collide. The number of
    statements run."""
    connection = connections[using]
    statements = connection.ops.sequence_reset_sql(no_style(), dumped_models())
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
    return len(statements)


def applied_migrations(*, using: str) -> list[str]:
    """The migrations recorded as applied in connection `using` ("app.name")."""
    from django.db.migrations.recorder import MigrationRecorder

    recorder = MigrationRecorder(connections[using])
    if not recorder.has_table():
        return []
    return sorted(f"{app}.{name}" for app, name in recorder.applied_migrations())


def verify(path: Path, expected: dict[str, dict[str, Any]]) -> int:
    """Check path's rows against the manifest's counts and checksums without
    a database (each row line is what write() summed); the rows read."""
    found: dict[str, tuple[list[int], _Checksum]] = {}
    current: tuple[list[int], _Checksum] | None = None
    with gzip.open(path, "rt", encoding="utf-8", newline="\n") as source:
        for raw in source:
            line = raw.rstrip("\n")
            if line.startswith("{"):
                current = found.setdefault(json.loads(line)["model"], ([0], _Checksum()))
            elif current is None:
                raise PortableError(f"{NAME} does not start with a model header.")
            else:
                current[0][0] += 1
                current[1].add(line)
    wrong = []
    for label in sorted(set(expected) | set(found)):
        rows, checksum = found.get(label, ([0], _Checksum()))
        want = expected.get(label, {"rows": 0, "sha256": _Checksum().hexdigest()})
        if rows[0] != want["rows"]:
            wrong.append(f"{label} has {rows[0]} rows of {want['rows']}")
        elif checksum.hexdigest() != want["sha256"]:
            wrong.append(f"{label} has other content")
    if wrong:
        raise PortableError(f"{NAME} differs from the manifest: " + "; ".join(wrong))
    return sum(rows[0] for rows, _ in found.values())
