"""The app starts with no environment at all, and with DATABASE_URL."""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_it_starts_with_no_environment(tmp_path: Path) -> None:
    # HELPDESK_DATA_DIR only moves the default ./var aside; it is the one
    # variable the embedded default reads.
    result = _manage("check", env={"HELPDESK_DATA_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
    migrated = _manage("migrate", "--no-input", env={"HELPDESK_DATA_DIR": str(tmp_path)})
    assert migrated.returncode == 0, migrated.stderr
    assert (tmp_path / "db.sqlite3").exists()
    shown = _manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.db import connection as c; cur=c.cursor();"
        "cur.execute('PRAGMA journal_mode'); print(cur.fetchone()[0]);"
        "from django.conf import settings as s; print(s.DEBUG)",
        env={"HELPDESK_DATA_DIR": str(tmp_path)},
    )
    assert shown.stdout.split() == ["wal", "False"], shown.stderr


def test_it_uses_database_url(tmp_path: Path) -> None:
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{tmp_path}/other.sqlite3"
    if url.startswith("postgres"):
        # The configured database may not exist (pytest-django only makes test_<name>);
        # the maintenance database always does.
        url = url.rsplit("/", 1)[0] + "/postgres"
    result = _manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.db import connection as c; c.ensure_connection();"
        "print(c.vendor, c.settings_dict['NAME'])",
        env={"HELPDESK_DATA_DIR": str(tmp_path), "DATABASE_URL": url},
    )
    assert result.returncode == 0, result.stderr
    vendor, name = result.stdout.split()
    assert vendor == ("postgresql" if url.startswith("postgres") else "sqlite")
    assert name in url


@pytest.mark.parametrize(("query", "timeout"), [("", "30"), ("?timeout=5", "5")])
def test_a_sqlite_url_is_set_up_like_the_embedded_default(
    tmp_path: Path, query: str, timeout: str
) -> None:
    # DATABASE_URL=sqlite:///... once got Python's defaults: a deferred BEGIN,
    # a 5 s timeout, no WAL, so a second writer failed with "database is
    # locked" at once (noticed by the fault suites' children).
    result = _manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.db import connection as c; cur=c.cursor();"
        "cur.execute('PRAGMA journal_mode'); print(cur.fetchone()[0]);"
        "cur.execute('PRAGMA synchronous'); print(cur.fetchone()[0]);"
        "o=c.settings_dict['OPTIONS']; print(o['transaction_mode'], o['timeout'])",
        env={
            "HELPDESK_DATA_DIR": str(tmp_path),
            "DATABASE_URL": f"sqlite:///{tmp_path}/other.sqlite3{query}",
        },
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["wal", "2", "IMMEDIATE", timeout]


@pytest.mark.parametrize(
    ("name", "value"), [("DEBUG", "maybe"), ("EMAIL_PORT", "twenty-five"), ("LOG_FORMAT", "xml")]
)
def test_a_bad_value_is_a_startup_error_naming_the_variable(
    tmp_path: Path, name: str, value: str
) -> None:
    result = _manage("check", env={"HELPDESK_DATA_DIR": str(tmp_path), name: value})
    assert result.returncode != 0
    assert name in result.stderr and value in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_secret_key_file_is_kept_across_starts(tmp_path: Path) -> None:
    code = "from django.conf import settings; print(settings.SECRET_KEY)"
    first = _manage("shell", "--no-imports", "-c", code, env={"HELPDESK_DATA_DIR": str(tmp_path)})
    second = _manage("shell", "--no-imports", "-c", code, env={"HELPDESK_DATA_DIR": str(tmp_path)})
    assert first.stdout == second.stdout and len(first.stdout.strip()) > 40


# A production start's least environment.
PRODUCTION_ENV = {
    "SECRET_KEY": "x" * 20 + "a-long-production-secret-with-entropy-1234567890",
    "HELPDESK_HTTPS": "yes",
    "ALLOWED_HOSTS": "help.example.com",
    "HELPDESK_BASE_URL": "https://help.example.com",
}


def test_production_settings_pass_the_deploy_check(tmp_path: Path) -> None:
    env = {**PRODUCTION_ENV, "HELPDESK_DATA_DIR": str(tmp_path)}
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_dotenv_values_apply_but_the_environment_wins(tmp_path: Path) -> None:
    from config.env import load_dotenv

    dotenv = tmp_path / ".env"
    dotenv.write_text("# comment\nHD_TEST_A=from-file\nexport HD_TEST_B='quoted'\nHD_TEST_C=file\n")
    os.environ["HD_TEST_C"] = "real"
    try:
        load_dotenv(dotenv)
        assert (os.environ["HD_TEST_A"], os.environ["HD_TEST_B"], os.environ["HD_TEST_C"]) == (
            "from-file",
            "quoted",
            "real",
        )
    finally:
        for key in ("HD_TEST_A", "HD_TEST_B", "HD_TEST_C"):
            os.environ.pop(key, None)


def _redis_reachable() -> bool:
    import socket

    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
    except OSError:
        return False
    return True


def test_redis_url_gives_every_process_one_shared_cache(tmp_path: Path) -> None:
    if not _redis_reachable():
        if os.environ.get("CI"):
            pytest.fail("Redis is not running on 127.0.0.1:6379 (Debian: redis-server)")
        pytest.skip("Redis is not running on 127.0.0.1:6379 (Debian: redis-server)")
    key = f"shared-{os.getpid()}-{tmp_path.name}"
    code = (
        "from django.core.cache import cache; from django.conf import settings as s;"
        "print(s.CACHES['default']['BACKEND']);"
        f"print(cache.get('{key}')); cache.set('{key}', 'from the first', 30)"
    )
    # Two processes with data dirs of their own: a file cache would not be shared.
    runs = []
    for where in ("host-a", "host-b"):
        env = {"HELPDESK_DATA_DIR": str(tmp_path / where), "REDIS_URL": "redis://127.0.0.1:6379/3"}
        runs.append(_manage("shell", "--no-imports", "-c", code, env=env))
    assert [r.returncode for r in runs] == [0, 0], runs[0].stderr + runs[1].stderr
    first, second = (r.stdout.split("\n") for r in runs)
    assert first[:2] == ["django.core.cache.backends.redis.RedisCache", "None"]
    assert second[1] == "from the first"


# What README "Deploying" step 2 says /etc/helpdesk.env needs at least, as
# .env.example writes it: the deploy check must be clean with those values.
PRODUCTION = [
    "DATABASE_URL",
    "SECRET_KEY",
    "DEBUG",
    "ALLOWED_HOSTS",
    "HELPDESK_BASE_URL",
    "HELPDESK_SUPPORT_ADDRESS",
    "HELPDESK_HTTPS",
    "HELPDESK_BEHIND_PROXY",
    "DEFAULT_FROM_EMAIL",
    "EMAIL_HOST",
    "EMAIL_PORT",
    "EMAIL_HOST_USER",
    "EMAIL_USE_TLS",
]


def test_the_production_env_example_passes_the_deploy_check(tmp_path: Path) -> None:
    example: dict[str, str] = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        name, sep, value = line.lstrip("#").partition("=")
        if sep and name in PRODUCTION:
            example.setdefault(name, value)
    assert sorted(example) == sorted(PRODUCTION), "the example lacks a production setting"
    env = {**example, "HELPDESK_DATA_DIR": str(tmp_path)}

    # The example's placeholder key is what the check must refuse...
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode != 0 and "security.W009" in result.stderr + result.stdout
    # ...and with a real one, the rest of the example is clean.
    env["SECRET_KEY"] = "k" * 10 + "a-generated-production-secret-with-entropy-0123456789"
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


# A9 (issue 16): what the production settings make of an answer. The settings
# are computed by a real start with the production environment (the values
# depend on HELPDESK_HTTPS at import time), then applied to this process to
# exercise the real middleware on a page, a login and a language switch.
SECURITY_SETTINGS = [
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SECURE_PROXY_SSL_HEADER",
    "SESSION_COOKIE_SECURE",
    "SESSION_COOKIE_HTTPONLY",
    "SESSION_COOKIE_SAMESITE",
    "CSRF_COOKIE_SECURE",
    "CSRF_COOKIE_SAMESITE",
    "LANGUAGE_COOKIE_SECURE",
    "LANGUAGE_COOKIE_HTTPONLY",
    "LANGUAGE_COOKIE_SAMESITE",
    "SECURE_CONTENT_TYPE_NOSNIFF",
    "SECURE_REFERRER_POLICY",
    "CONTENT_SECURITY_POLICY",
]


def _production_security_settings(tmp_path: Path) -> dict[str, Any]:
    env = {**PRODUCTION_ENV, "HELPDESK_BEHIND_PROXY": "yes", "HELPDESK_DATA_DIR": str(tmp_path)}
    code = (
        "import json; from django.conf import settings; "
        f"print(json.dumps({{n: getattr(settings, n, None) for n in {SECURITY_SETTINGS!r}}}))"
    )
    result = _manage("shell", "-c", code, env=env)
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def _cookie_flags(response: Any) -> dict[str, dict[str, Any]]:
    return {
        name: {
            "secure": bool(morsel["secure"]),
            "httponly": bool(morsel["httponly"]),
            "samesite": morsel["samesite"],
        }
        for name, morsel in response.cookies.items()
    }


@pytest.mark.django_db
def test_production_answers_carry_hsts_csp_and_safe_cookies(
    tmp_path: Path, settings: Any, customer: Any
) -> None:
    from django.test import Client

    from tests.conftest import PASSWORD

    production = _production_security_settings(tmp_path)
    for name, value in production.items():
        if value is not None:
            setattr(settings, name, tuple(value) if name == "SECURE_PROXY_SSL_HEADER" else value)
    settings.ALLOWED_HOSTS = ["help.example.com"]
    client = Client(HTTP_HOST="help.example.com", HTTP_X_FORWARDED_PROTO="https")

    # Plain HTTP is sent to HTTPS.
    plain = Client(HTTP_HOST="help.example.com").get("/accounts/login/")
    assert plain.status_code == 301 and plain["Location"].startswith("https://help.example.com/")

    page = client.get("/accounts/login/")
    assert page.status_code == 200
    hsts = page["Strict-Transport-Security"]
    assert int(hsts.split("max-age=")[1].split(";")[0]) >= 31536000 and "includeSubDomains" in hsts
    policy = {
        part.split()[0]: part.split()[1:]
        for part in page["Content-Security-Policy"].split(";")
        if part.strip()
    }
    # Scripts from our origin only (or a nonce, should a page ever need
    # one): no inline script exists (test_templates_csp.py), so none is
    # allowed, stricter than the catalogue's nonce; no unsafe-*, no hosts.
    assert policy["script-src"], policy
    for source in policy["script-src"]:
        assert source == "'self'" or source.startswith("'nonce-"), policy["script-src"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert page["X-Content-Type-Options"] == "nosniff"
    assert page["Referrer-Policy"] == "same-origin"

    logged_in = client.post("/accounts/login/", {"username": customer.email, "password": PASSWORD})
    language = client.post("/language/", {"language": "en", "next": "/"})
    cookies = {
        **_cookie_flags(page),
        **_cookie_flags(logged_in),
        **_cookie_flags(language),
    }
    assert {"csrftoken", "sessionid", "django_language"} <= set(cookies), cookies
    # ASVS 3.4: every cookie Secure and SameSite; the session's out of
    # scripts' reach (the CSRF token is read by our htmx setup from the page).
    for name, flags in cookies.items():
        assert flags["secure"] and flags["samesite"] == "Lax", (name, flags)
    assert cookies["sessionid"]["httponly"]
    assert cookies["django_language"]["httponly"]
