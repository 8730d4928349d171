"""Checking uploaded files before they reach tickets.services.

The same limits are announced to the browser (data attributes read by
static/js/form-validation.js) so people learn about a too-large file before
uploading it; this module is what actually enforces them.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Sequence
from pathlib import PurePath
from typing import IO, Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.utils import formats
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from tickets.services import NewAttachment


def max_bytes() -> int:
    return int(settings.HELPDESK_MAX_ATTACHMENT_MB) * 1024 * 1024


def _normalised(extensions: Sequence[str]) -> list[str]:
    return [
        e.strip().lower() if e.strip().startswith(".") else "." + e.strip().lower()
        for e in extensions
        if e.strip()
    ]


def blocked_extensions() -> list[str]:
    return _normalised(getattr(settings, "HELPDESK_BLOCKED_EXTENSIONS", []))


def allowed_extensions() -> list[str]:
    return _normalised(getattr(settings, "HELPDESK_ALLOWED_EXTENSIONS", []))


def max_files() -> int:
    return int(getattr(settings, "HELPDESK_MAX_ATTACHMENTS", 10))


def extension_of(name: str) -> str:
    return PurePath(name.replace("\\", "/")).suffix.lower()


def sizes_apart(size: int, limit: int) -> tuple[str, str]:
    """Two sizes written so that they differ when they do: filesizeformat
    gives "20,0 MB" both for a 21,000,000-byte file and for the 20 MiB limit.
    Megabytes with two decimals, else the exact numbers of bytes."""

    def megabytes(n: int) -> str:
        value = formats.number_format(round(n / 1024 / 1024, 2), 2, use_l10n=True)
        return _("%(mb)s MB") % {"mb": value}

    def in_bytes(n: int) -> str:
        value = formats.number_format(n, use_l10n=True, force_grouping=True)
        return ngettext("%(bytes)s byte", "%(bytes)s bytes", n) % {"bytes": value}

    if megabytes(size) != megabytes(limit):
        return megabytes(size), megabytes(limit)
    return in_bytes(size), in_bytes(limit)


def check_file(upload: UploadedFile) -> None:
    """Raise ValidationError naming the file when it breaks a limit."""
    name = upload.name or ""
    size = upload.size or 0
    if size > max_bytes():
        shown_size, shown_limit = sizes_apart(size, max_bytes())
        raise ValidationError(
            _("%(name)s is %(size)s; the limit is %(limit)s per file."),
            code="too_large",
            params={"name": name, "size": shown_size, "limit": shown_limit},
        )
    ext = extension_of(name)
    allowed = allowed_extensions()
    if ext in blocked_extensions() or (allowed and ext not in allowed):
        raise ValidationError(
            _("%(name)s: files of this type (%(ext)s) are not accepted."),
            code="blocked_type",
            params={"name": name, "ext": ext or _("no extension")},
        )


def to_new_attachment(upload: UploadedFile) -> NewAttachment:
    name = upload.name or "attachment"
    # The browser's declared type is only a hint; the download view never
    # serves a scriptable type whatever is stored here.
    guessed, _encoding = mimetypes.guess_type(name)
    content_type = guessed or upload.content_type or "application/octet-stream"
    stream: IO[bytes] = upload.file  # type: ignore[assignment]
    return NewAttachment(name=name, content_type=content_type, content=stream)


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input, each checked against the upload limits."""

    widget = MultipleFileInput

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile]:
        items = data if isinstance(data, list | tuple) else ([data] if data else [])
        files = [super(MultipleFileField, self).clean(item, initial) for item in items]
        files = [f for f in files if f]
        if len(files) > max_files():
            raise ValidationError(
                _("At most %(count)d files can be attached at once."),
                code="too_many",
                params={"count": max_files()},
            )
        errors: list[ValidationError] = []
        for upload in files:
            try:
                check_file(upload)
            except ValidationError as exc:
                errors.append(exc)
        if errors:
            raise ValidationError(errors)
        return files


def limit_attrs() -> dict[str, str]:
    """The limits as data attributes for the file input (read by the page script);
    computed per request so settings changes apply without a restart."""
    return {
        "data-max-bytes": str(max_bytes()),
        "data-max-files": str(max_files()),
        "data-blocked": ",".join(blocked_extensions()),
        "data-allowed": ",".join(allowed_extensions()),
    }
