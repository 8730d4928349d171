"""No inline script anywhere: the CSP forbids it, so a template that has one is broken."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Mail templates are not served to browsers (mail clients need inline styles).
TEMPLATES = [
    p for p in (ROOT / "templates").rglob("*.html") if "emails" not in p.relative_to(ROOT).parts
]


def test_templates_have_no_inline_script_or_handlers() -> None:
    assert TEMPLATES
    for path in TEMPLATES:
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r"<script\b([^>]*)>", text):
            assert "src=" in match.group(1), f"inline <script> in {path}"
        assert not re.search(r"\son[a-z]+\s*=", text), f"inline event handler in {path}"
        assert "hx-on" not in text, f"hx-on needs eval, which the CSP forbids: {path}"
        assert not re.search(r"\sstyle\s*=", text), f"inline style attribute in {path}"
        assert "javascript:" not in text, path


def test_vendored_files_and_licences_are_there() -> None:
    vendor = ROOT / "static" / "vendor"
    for name in (
        "bootstrap-5.3.9/css/bootstrap.min.css",
        "bootstrap-5.3.9/js/bootstrap.bundle.min.js",
        "bootstrap-5.3.9/LICENSE",
        "htmx-2.0.11/htmx.min.js",
        "htmx-2.0.11/LICENSE",
    ):
        assert (vendor / name).is_file(), name
    base = (ROOT / "templates" / "base.html").read_text()
    assert "//cdn" not in base and "https://" not in base
