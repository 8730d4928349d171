"""Settings, read from the environment (see README "Configuration").

The embedded default needs no environment at all: SQLite and files under
HELPDESK_DATA_DIR (./var), the embedded SMTP listener and the database worker.
"""

import importlib.util
import json
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from config.env import env, envbool, envint, envlist, load_dotenv, plugin_apps, secret_key

BASE_DIR = Path(__file__).resolve().parent.parent
load_dotenv(BASE_DIR / ".env")
DATA_DIR = Path(env("HELPDESK_DATA_DIR", str(BASE_DIR / "var"))).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)

SECRET_KEY = secret_key(DATA_DIR)
SECRET_KEY_FALLBACKS = envlist("SECRET_KEY_FALLBACKS", [])
DEBUG = envbool("DEBUG", False)
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    # Django's admin with our site (helpdesk.admin_site: no "does it exist?"
    # answers to staff who may not see an object).
    "helpdesk.admin_config.HelpdeskAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "helpdesk",
    "tickets",
    "mailgateway",
    # Before django_tasks_db: its db_worker command is replaced by outbound's,
    # which also delivers the outbox (Django takes the first app's command).
    "outbound",
    "django_tasks",
    "outbound.apps.TasksDatabaseConfig",  # django_tasks_db, with a translated name
    "anymail",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI as our own static files
    "helpdesk.api",
]

# Plugins: ordinary Django apps named in HELPDESK_PLUGINS (comma-separated
# dotted names, e.g. plugins.domain_routing), installed after our own apps.
# One that cannot be imported stops the start with its name, not a traceback
# from deep inside Django's app loading (README "Plugins").
HELPDESK_PLUGINS = plugin_apps(envlist("HELPDESK_PLUGINS", []))
INSTALLED_APPS += [name for name in HELPDESK_PLUGINS if name not in INSTALLED_APPS]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "helpdesk.audit.AuditContextMiddleware",
    "helpdesk.middleware.UserLanguageMiddleware",
    "helpdesk.middleware.UserTimezoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # ESP inbound webhooks: a mail that could not be stored answers 503, never 4xx.
    "mailgateway.esp.TransientFailureMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.tz",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "csp.context_processors.nonce",
                "helpdesk.context_processors.brand",
                "helpdesk.context_processors.plugin_nav",
            ],
        },
    },
]

# Database: SQLite in the data dir unless DATABASE_URL says otherwise.
# Several processes (web, smtp, worker, cron) write to SQLite at once: WAL lets
# readers run beside the writer, IMMEDIATE takes the write lock at BEGIN so two
# writers queue on the busy timeout instead of failing with "database is
# locked" mid-transaction, and synchronous=FULL makes a commit survive a power
# cut, which is what "acknowledged after stored" promises. A sqlite:// URL gets
# the same (its query may override them, e.g. ?timeout=5).
SQLITE_OPTIONS = {
    "transaction_mode": "IMMEDIATE",
    "timeout": 30,
    "init_command": (
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
        "PRAGMA foreign_keys=ON; PRAGMA cache_size=-20000;"
    ),
}
DATABASE_URL = env("DATABASE_URL")
if DATABASE_URL:
    try:
        DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
    except ValueError as exc:
        raise ImproperlyConfigured(f"DATABASE_URL is not a database URL: {exc}") from None
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
        DATABASES["default"]["OPTIONS"] = {
            **SQLITE_OPTIONS,
            **DATABASES["default"].get("OPTIONS", {}),
        }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(DATA_DIR / "db.sqlite3"),
            "OPTIONS": dict(SQLITE_OPTIONS),
            # Tests spawn real processes, which cannot share an in-memory db.
            "TEST": {"NAME": str(DATA_DIR / "test.sqlite3")},
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "helpdesk.User"
AUTHENTICATION_BACKENDS = ["helpdesk.backends.EmailBackend"]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Languages: Brazilian Portuguese first, English second.
LANGUAGE_CODE = "pt-br"
LANGUAGES = [("pt-br", _("Portuguese (Brazil)")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
# One date style per language (config/formats/__init__.py says why).
FORMAT_MODULE_PATH = ["config.formats"]
TIME_ZONE = env("TIME_ZONE", "America/Sao_Paulo")
USE_I18N = True
USE_TZ = True

# Login-failure and reset-mail counters must be shared by every web worker
# (gunicorn runs several processes): a file cache in the data dir is, with
# nothing to run. Several web machines need a cache they all reach (HELPDESK_CACHE_DIR
# on a shared volume).
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": env("HELPDESK_CACHE_DIR", str(DATA_DIR / "cache")),
        "OPTIONS": {"MAX_ENTRIES": 10000},
    }
}
# REDIS_URL (redis://host:6379/0): Django's own RedisCache instead, the one
# every web server, worker and listener on every machine shares.
REDIS_URL = env("REDIS_URL")
if REDIS_URL:
    CACHES["default"] = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "helpdesk",
    }

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)  # WhiteNoise warns about a missing folder
MEDIA_ROOT = DATA_DIR / "media"
MEDIA_URL = "/media/"
STORAGES: dict[str, dict[str, Any]] = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = True

# Several machines: attachments and the raw-mail archive (under raw/) in one
# bucket of any S3-compatible object store (config.objectstore, the `s3`
# extra). Credentials are AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or their
# _FILE), else boto3's usual chain (instance role, ~/.aws). Downloads are
# presigned URLs valid HELPDESK_S3_URL_EXPIRE seconds, handed out only after
# the access checks.
HELPDESK_S3_BUCKET = env("HELPDESK_S3_BUCKET")
HELPDESK_S3_ENDPOINT_URL = env("HELPDESK_S3_ENDPOINT_URL")
HELPDESK_S3_OPTIONS: dict[str, Any] = {}
if HELPDESK_S3_BUCKET:
    if importlib.util.find_spec("storages") is None:
        raise ImproperlyConfigured(
            "HELPDESK_S3_BUCKET is set but django-storages is not installed: "
            "pip install -c constraints.txt -e '.[s3]'"
        )
    HELPDESK_S3_OPTIONS = {
        "bucket_name": HELPDESK_S3_BUCKET,
        "endpoint_url": HELPDESK_S3_ENDPOINT_URL or None,
        "region_name": env("AWS_S3_REGION_NAME") or env("AWS_DEFAULT_REGION") or None,
        "access_key": env("AWS_ACCESS_KEY_ID") or None,
        "secret_key": env("AWS_SECRET_ACCESS_KEY") or None,
        "security_token": env("AWS_SESSION_TOKEN") or None,
        # MinIO, Ceph, Garage and most self-hosted stores want path-style
        # addressing; AWS itself takes either.
        "addressing_style": env(
            "AWS_S3_ADDRESSING_STYLE", "path" if HELPDESK_S3_ENDPOINT_URL else "auto"
        ),
        "querystring_auth": True,
        "querystring_expire": envint("HELPDESK_S3_URL_EXPIRE", 300),
        # Names are server-chosen uuids (tickets.models.attachment_path): no
        # collision to look for, so no HEAD request before each upload.
        "file_overwrite": True,
        "default_acl": None,  # private objects, whatever the bucket's default
    }
    STORAGES["default"] = {
        "BACKEND": "config.s3.ObjectStorage",
        "OPTIONS": HELPDESK_S3_OPTIONS,
    }
# One box behind nginx: attachment downloads (local files) are handed to nginx
# with X-Accel-Redirect under this prefix after the access checks, instead of
# streamed by a gunicorn worker; nginx serves the prefix from MEDIA_ROOT as an
# internal location (config/deploy/nginx.conf). Empty: Django streams them.
HELPDESK_X_ACCEL_REDIRECT = env("HELPDESK_X_ACCEL_REDIRECT")
if HELPDESK_X_ACCEL_REDIRECT and not (
    HELPDESK_X_ACCEL_REDIRECT.startswith("/") and HELPDESK_X_ACCEL_REDIRECT.endswith("/")
):
    raise ImproperlyConfigured(
        f"HELPDESK_X_ACCEL_REDIRECT must be a path starting and ending with '/', "
        f"got {HELPDESK_X_ACCEL_REDIRECT!r}"
    )

# The background worker (Django Tasks with the database backend).
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

# Mail out: SMTP when EMAIL_HOST is set (or an anymail backend by
# EMAIL_BACKEND), otherwise files under the data dir so nothing leaves the box.
EMAIL_HOST = env("EMAIL_HOST")
EMAIL_PORT = envint("EMAIL_PORT", 25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = envbool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = envint("EMAIL_TIMEOUT", 30)
EMAIL_BACKEND = env(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.filebased.EmailBackend",
)
EMAIL_FILE_PATH = DATA_DIR / "sent-mail"
ANYMAIL: dict[str, Any] = {
    key.removeprefix("ANYMAIL_"): value
    for key in (
        "ANYMAIL_MAILGUN_API_KEY",
        "ANYMAIL_MAILGUN_API_URL",
        "ANYMAIL_MAILGUN_SENDER_DOMAIN",
        "ANYMAIL_MAILGUN_WEBHOOK_SIGNING_KEY",
        "ANYMAIL_POSTMARK_SERVER_TOKEN",
        "ANYMAIL_SENDGRID_API_KEY",
        "ANYMAIL_AMAZON_SES_CLIENT_PARAMS",
        "ANYMAIL_WEBHOOK_SECRET",
    )
    if (value := env(key))
}
if "AMAZON_SES_CLIENT_PARAMS" in ANYMAIL:
    # boto3 client arguments as JSON, e.g. {"region_name": "us-east-1"}.
    try:
        ANYMAIL["AMAZON_SES_CLIENT_PARAMS"] = json.loads(ANYMAIL["AMAZON_SES_CLIENT_PARAMS"])
    except ValueError:
        raise ImproperlyConfigured(
            'ANYMAIL_AMAZON_SES_CLIENT_PARAMS must be JSON, e.g. {"region_name": "us-east-1"}'
        ) from None

# The outbox: retry waits in seconds (the last repeats; default 1 min doubling
# to 6 h), attempts before "failed", and how long a row may stay "sending"
# before it is taken for a dead worker's and sent again.
try:
    HELPDESK_OUTBOX_BACKOFF = [int(s) for s in envlist("HELPDESK_OUTBOX_BACKOFF", [])]
except ValueError:
    raise ImproperlyConfigured(
        "HELPDESK_OUTBOX_BACKOFF must be comma-separated seconds, e.g. 60,300,1800,21600"
    ) from None
HELPDESK_OUTBOX_MAX_ATTEMPTS = envint("HELPDESK_OUTBOX_MAX_ATTEMPTS", 12)
# At most this many notification mails an hour to one address (0: no cap); the
# rest are kept as "skipped" in the outbox, so a storm never floods a mailbox.
HELPDESK_NOTIFY_MAX_PER_HOUR = envint("HELPDESK_NOTIFY_MAX_PER_HOUR", 30)
HELPDESK_OUTBOX_SENDING_TIMEOUT = envint("HELPDESK_OUTBOX_SENDING_TIMEOUT", 600)
# The helpdesk's name in the pages' header, in mails and as their sender name
# (default: the name in DEFAULT_FROM_EMAIL, else "Helpdesk" translated: "Central
# de atendimento"); agents' replies go out as "Ana via Central de atendimento".
HELPDESK_SUPPORT_NAME = env("HELPDESK_SUPPORT_NAME")

HELPDESK_SUPPORT_ADDRESS = env("HELPDESK_SUPPORT_ADDRESS", "support@example.com")
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", HELPDESK_SUPPORT_ADDRESS)
SERVER_EMAIL = DEFAULT_FROM_EMAIL
HELPDESK_BASE_URL = env("HELPDESK_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
HELPDESK_SMTP_HOST = env("HELPDESK_SMTP_HOST", "127.0.0.1")
HELPDESK_SMTP_PORT = envint("HELPDESK_SMTP_PORT", 2525)
HELPDESK_IMAP_URL = env("HELPDESK_IMAP_URL")
# /healthz reports a mailbox unhealthy when no poll succeeded for this long.
HELPDESK_IMAP_STALE_MINUTES = envint("HELPDESK_IMAP_STALE_MINUTES", 30)
# /healthz: no worker heartbeat for this long is unhealthy (helpdesk.heartbeats);
# below this much free disk where mail and files are written, too.
HELPDESK_WORKER_STALE_SECONDS = envint("HELPDESK_WORKER_STALE_SECONDS", 120)
HELPDESK_DISK_MIN_FREE_MB = envint("HELPDESK_DISK_MIN_FREE_MB", 200)
# The audit log (sign-ins, permission, mailbox, webhook and token changes...).
HELPDESK_AUDIT_DAYS = envint("HELPDESK_AUDIT_DAYS", 365)
HELPDESK_MAX_ATTACHMENT_MB = envint("HELPDESK_MAX_ATTACHMENT_MB", 20)
# Upload types for the web forms: a blocked list (always applied) and an
# optional allowed list (when set, only those extensions are accepted).
HELPDESK_BLOCKED_EXTENSIONS = envlist(
    "HELPDESK_BLOCKED_EXTENSIONS",
    [".exe", ".bat", ".cmd", ".com", ".js", ".vbs", ".scr", ".msi", ".jar", ".ps1"],
)
HELPDESK_ALLOWED_EXTENSIONS = envlist("HELPDESK_ALLOWED_EXTENSIONS", [])
HELPDESK_MAX_ATTACHMENTS = envint("HELPDESK_MAX_ATTACHMENTS", 10)
# Agents read every ticket (small teams expect it); off restricts them to
# their teams' tickets and those assigned to them.
HELPDESK_AGENTS_SEE_ALL = envbool("HELPDESK_AGENTS_SEE_ALL", True)
# How long a sign-up's email verification link stays valid.
HELPDESK_VERIFY_MAX_AGE_DAYS = envint("HELPDESK_VERIFY_MAX_AGE_DAYS", 3)
HELPDESK_BACKUP_DIR = Path(env("HELPDESK_BACKUP_DIR", str(DATA_DIR / "backups")))
# After each backup: keep the newest archive of each of the last N days and M
# weeks that have one (helpdesk.ops.rotation); both 0 keeps every archive.
HELPDESK_BACKUP_KEEP_DAILY = envint("HELPDESK_BACKUP_KEEP_DAILY", 7)
HELPDESK_BACKUP_KEEP_WEEKLY = envint("HELPDESK_BACKUP_KEEP_WEEKLY", 4)
HELPDESK_DEMO_PASSWORD = env("HELPDESK_DEMO_PASSWORD")
# A reply to a closed ticket reopens it within this many days, else opens a new one.
HELPDESK_REOPEN_WINDOW_DAYS = envint("HELPDESK_REOPEN_WINDOW_DAYS", 14)
# Reports: the hour (TIME_ZONE) the scheduler sends the daily and weekly
# (Mondays) summary mails, and scheduler jobs to leave to cron or others.
HELPDESK_REPORT_HOUR = envint("HELPDESK_REPORT_HOUR", 7)
HELPDESK_SCHEDULER_SKIP = envlist("HELPDESK_SCHEDULER_SKIP", [])
# SLAs (tickets.sla): the assignee (or the team) is warned this many minutes
# before a first-response or resolution target is breached (sla_check).
HELPDESK_SLA_WARNING_MINUTES = envint("HELPDESK_SLA_WARNING_MINUTES", 60)
# Workflow: the team of tickets no routing rule routes (a team's name; empty:
# such tickets have no team), and the days a resolved ticket waits for the
# customer before it closes by itself (close_resolved).
HELPDESK_DEFAULT_TEAM = env("HELPDESK_DEFAULT_TEAM", "")
HELPDESK_AUTOCLOSE_DAYS = envint("HELPDESK_AUTOCLOSE_DAYS", 5)

# Mail in (mailgateway): which addresses are ours, size limit, trust anchors.
HELPDESK_RAW_DIR = Path(env("HELPDESK_RAW_DIR", str(DATA_DIR / "raw")))
HELPDESK_MAX_MESSAGE_MB = envint("HELPDESK_MAX_MESSAGE_MB", 25)
HELPDESK_EXTRA_ADDRESSES = envlist("HELPDESK_EXTRA_ADDRESSES", [])
HELPDESK_SUPPORT_DOMAINS = envlist("HELPDESK_SUPPORT_DOMAINS", [])
HELPDESK_ALLOWED_SENDER_DOMAINS = envlist("HELPDESK_ALLOWED_SENDER_DOMAINS", [])
# The authserv-id our own MTA writes in Authentication-Results (RFC 8601);
# empty = never trust that header.
HELPDESK_AUTHSERV_ID = env("HELPDESK_AUTHSERV_ID")
HELPDESK_SMTP_TLS_CERT = env("HELPDESK_SMTP_TLS_CERT")
HELPDESK_SMTP_TLS_KEY = env("HELPDESK_SMTP_TLS_KEY")

DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# Security: safe by default, HTTPS hardening switched on by HELPDESK_HTTPS.
HTTPS = envbool("HELPDESK_HTTPS", False)
SECURE_SSL_REDIRECT = HTTPS and envbool("SECURE_SSL_REDIRECT", True)
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 31536000) if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS and envbool("SECURE_HSTS_PRELOAD", True)
if envbool("HELPDESK_BEHIND_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
# The language switcher's cookie, like the others: over HTTPS only, out of
# scripts' reach (none reads it), not sent on cross-site requests (it was
# none of these; found by A9's cookie test in tests/config/test_settings.py).
LANGUAGE_COOKIE_SECURE = HTTPS
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}

# The API (helpdesk.api): bearer tokens or the browser's session (with CSRF),
# JSON only, errors translated, HELPDESK_API_RATE requests per token (or per
# user, or per address) counted in the default cache.
HELPDESK_API_RATE = env("HELPDESK_API_RATE", "600/hour")
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "helpdesk.api.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_THROTTLE_CLASSES": ["helpdesk.api.throttling.TokenRateThrottle"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "helpdesk.api.errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Helpdesk API",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

# One line per event (config.logs): key=value after the message, or one JSON
# object a line with LOG_FORMAT=json; secrets are blanked in both.
LOG_FORMAT = env("LOG_FORMAT", "plain").strip().lower()
if LOG_FORMAT not in {"plain", "json"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be plain or json, not {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"()": "config.logs.PlainFormatter"},
        "json": {"()": "config.logs.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
