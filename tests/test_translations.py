"""pt-BR is the default language and every catalogue entry is translated."""

import gettext
import re
import subprocess
from pathlib import Path

import pytest
from django.utils import translation

from tests.programs import locate
from tickets.states import Priority, Status

PO = Path(__file__).resolve().parents[1] / "locale" / "pt_BR" / "LC_MESSAGES" / "django.po"


def test_status_and_priority_labels_speak_portuguese() -> None:
    with translation.override("pt-br"):
        assert [str(s.label) for s in Status] == [
            "Aberto",
            "Em andamento",
            "Aguardando cliente",
            "Resolvido",
            "Fechado",
        ]
        assert [str(p.label) for p in Priority] == ["Baixa", "Média", "Alta", "Urgente"]
    with translation.override("en"):
        assert str(Status.WAITING_CUSTOMER.label) == "Waiting on customer"


def test_the_catalogue_has_no_untranslated_or_fuzzy_entries() -> None:
    text = PO.read_text(encoding="utf-8")
    entries = text.split("\n\n")[1:]  # the first block is the header
    missing = [e for e in entries if e.rstrip().endswith('msgstr ""') and "msgid_plural" not in e]
    fuzzy = [e for e in entries if "#, fuzzy" in e]
    assert missing == [] and fuzzy == [], (missing + fuzzy)[:5]
    # The compiled catalogue must be in step with the source one.
    with PO.with_suffix(".mo").open("rb") as fh:
        compiled = gettext.GNUTranslations(fh)
    # Entries with a msgctxt ("abbrev. month") are looked up with their context,
    # plurals by number ("%(bytes)s byte" is the same in both languages).
    plain = "\n\n".join(
        e for e in entries if "\nmsgctxt " not in "\n" + e and "\nmsgid_plural " not in e
    )
    ids = re.findall(r'^msgid "(.+)"$', plain, flags=re.MULTILINE)
    stale = [
        i
        for i in ids
        if "\\" not in i and compiled.gettext(i) == i and f'msgid "{i}"\nmsgstr "{i}"' not in text
    ]
    assert stale == []


@pytest.mark.requires_program("msgfmt")
def test_msgfmt_accepts_the_catalogue_and_compiles_what_is_committed(tmp_path: Path) -> None:
    # msgfmt --check: placeholders (python-format) agree between msgid and msgstr,
    # and plural forms match the header; then the committed .mo is what it compiles.
    compiled = tmp_path / "django.mo"
    result = subprocess.run(
        [locate("msgfmt") or "msgfmt", "--check", "-o", str(compiled), str(PO)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    with compiled.open("rb") as fresh, PO.with_suffix(".mo").open("rb") as committed:
        fresh_catalog = gettext.GNUTranslations(fresh)._catalog  # type: ignore[attr-defined]
        committed_catalog = gettext.GNUTranslations(committed)._catalog  # type: ignore[attr-defined]
    assert fresh_catalog == committed_catalog, "run `make messages`"
