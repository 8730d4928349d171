"""Strict readers for settings taken from the environment.

A typo in a boolean or a number must stop the process with a message naming
the variable, instead of silently falling back to a default.
"""

import importlib.util
import os
import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def load_dotenv(path: Path) -> None:
    """Read KEY=VALUE lines from path into os.environ; the real environment wins."""
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        return
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        os.environ.setdefault(key.strip().removeprefix("export "), value)


def env(name: str, default: str = "") -> str:
    """The variable's value, or the content of the file named by NAME_FILE."""
    file_name = os.getenv(f"{name}_FILE")
    if file_name:
        try:
            return Path(file_name).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE: cannot read {file_name}: {exc}") from exc
    return os.getenv(name, default)


def envbool(name: str, default: bool) -> bool:
    raw = env(name).strip().lower()
    if not raw:
        return default
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"{name} must be a boolean (1/0, true/false, yes/no, on/off), got {raw!r}"
    )


def envint(name: str, default: int) -> int:
    raw = env(name).strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None


def envlist(name: str, default: list[str]) -> list[str]:
    raw = env(name).strip()
    if not raw:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def secret_key(data_dir: Path) -> str:
    """SECRET_KEY from the environment, else one generated once into the data dir."""
    key = env("SECRET_KEY")
    if key:
        return key
    path = data_dir / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    # O_EXCL makes two processes starting at once agree on one key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


def plugin_apps(names: list[str]) -> list[str]:
    """HELPDESK_PLUGINS, checked: each name a module (or an AppConfig class
    in one) that can be found, so a typo or a missing package stops the start
    with a line naming it instead of a traceback from Django's app loading."""
    for name in names:
        if not all(part.isidentifier() for part in name.split(".")):
            raise ImproperlyConfigured(f"HELPDESK_PLUGINS: {name!r} is not a dotted module name")
        module, _, attr = name.rpartition(".")
        try:
            found = importlib.util.find_spec(name) is not None
        except ImportError:
            found = False  # a parent is not a package: perhaps an AppConfig class path
        except Exception as exc:  # the plugin's own package failed to import
            raise ImproperlyConfigured(
                f"HELPDESK_PLUGINS: plugin {name!r} cannot be imported: {type(exc).__name__}: {exc}"
            ) from None
        if not found and module and attr[:1].isupper():
            try:
                found = importlib.util.find_spec(module) is not None
            except Exception:
                found = False
        if not found:
            raise ImproperlyConfigured(
                f"HELPDESK_PLUGINS: plugin {name!r} cannot be imported "
                "(no such module; is it installed, or spelt right?)"
            )
    return names
