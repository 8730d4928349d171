"""HELPDESK_PLUGINS: installed as apps, a missing one a one-line startup
error naming it, the example plugin's configuration checked at start, and
its own pt-BR catalogue complete."""

from __future__ import annotations

import gettext
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from config.env import plugin_apps
from plugins.domain_routing.rules import check_config
from tests.programs import locate

ROOT = Path(__file__).resolve().parents[2]
PLUGIN_PO = ROOT / "plugins" / "domain_routing" / "locale" / "pt_BR" / "LC_MESSAGES" / "django.po"


def manage(*args: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "HELPDESK_DATA_DIR": str(tmp_path),
        **env,
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_plugin_named_in_helpdesk_plugins_is_an_installed_app() -> None:
    assert settings.HELPDESK_PLUGINS == ["plugins.domain_routing"]
    assert settings.INSTALLED_APPS[-1] == "plugins.domain_routing"
    assert apps.get_app_config("domain_routing").verbose_name == "Roteamento por domínio"


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (["plugins.nope"], "HELPDESK_PLUGINS: plugin 'plugins.nope' cannot be imported"),
        (["nowhere.apps.Config"], "plugin 'nowhere.apps.Config' cannot be imported"),
        (["plugins/domain_routing"], "'plugins/domain_routing' is not a dotted module name"),
    ],
)
def test_a_plugin_that_cannot_be_imported_is_named(names: list[str], message: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=message):
        plugin_apps(names)


def test_a_plugin_may_be_named_by_module_or_by_its_app_config() -> None:
    names = ["plugins.domain_routing", "plugins.domain_routing.apps.DomainRoutingConfig"]
    assert plugin_apps(names) == names


def test_manage_py_stops_with_the_plugins_name(tmp_path: Path) -> None:
    result = manage("check", tmp_path=tmp_path, HELPDESK_PLUGINS="plugins.domain_routing,acme_crm")
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.endswith(
        "HELPDESK_PLUGINS: plugin 'acme_crm' "
        "cannot be imported (no such module; is it installed, or spelt right?)"
    )


def test_manage_py_checks_the_example_plugins_configuration(tmp_path: Path) -> None:
    ok = manage(
        "check",
        tmp_path=tmp_path,
        HELPDESK_PLUGINS="plugins.domain_routing",
        DOMAIN_ROUTING="acme.com=Billing:acme,spam.example=drop",
    )
    assert ok.returncode == 0, ok.stderr
    bad = manage(
        "check",
        tmp_path=tmp_path,
        HELPDESK_PLUGINS="plugins.domain_routing",
        DOMAIN_ROUTING="acme.com",
    )
    assert bad.returncode == 1
    assert "(domain_routing.E001) DOMAIN_ROUTING: 'acme.com' is not DOMAIN=TEAM:TAG" in bad.stderr


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("acme.com=Billing:acme, beta.org=:beta, spam.example=DROP", None),
        ("acme.com=", "'acme.com=' is not DOMAIN=TEAM:TAG"),
        ("acme.com=:", "'acme.com=:' names neither a team nor a tag"),
        ("acme.com=A,ACME.com=B", "acme.com is named twice"),
        ("bia@acme.com=A", "'bia@acme.com=A' is not DOMAIN=TEAM:TAG"),
    ],
)
def test_the_configuration_check(settings: Any, value: str, error: str | None) -> None:
    settings.DOMAIN_ROUTING = value
    found = check_config()
    if error is None:
        assert found == []
    else:
        (message,) = found
        assert message.id == "domain_routing.E001" and error in message.msg


def test_the_plugins_catalogue_is_complete_and_compiled(tmp_path: Path) -> None:
    text = PLUGIN_PO.read_text(encoding="utf-8")
    entries = text.split("\n\n")[1:]
    assert entries and not [e for e in entries if e.rstrip().endswith('msgstr ""')]
    msgfmt = locate("msgfmt")
    if msgfmt is None:
        pytest.skip("msgfmt is not installed")
    fresh = tmp_path / "django.mo"
    subprocess.run([msgfmt, "--check", "-o", str(fresh), str(PLUGIN_PO)], check=True, timeout=60)
    with fresh.open("rb") as a, PLUGIN_PO.with_suffix(".mo").open("rb") as b:
        assert gettext.GNUTranslations(a)._catalog == gettext.GNUTranslations(b)._catalog  # type: ignore[attr-defined]
