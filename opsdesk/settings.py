"""Opsdesk settings, read from the environment.

Development defaults need no services (SQLite and a filesystem Celery broker under ``var/``).
``OPSDESK_ENV=production`` refuses to start without ``SECRET_KEY``, ``DATABASE_URL`` and
``ALLOWED_HOSTS`` and turns on the hardening that ``manage.py check --deploy`` expects.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.utils.translation import gettext_lazy as _

from opsdesk.env import env_bool, env_int, env_list, env_str, require

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("OPSDESK_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

OPSDESK_ENV = env_str("OPSDESK_ENV", "development")
PRODUCTION = OPSDESK_ENV == "production"


def _development_secret_key() -> str:
    # Generated once per checkout so sessions survive restarts without a committed secret.
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50), encoding="utf-8")
        key_file.chmod(0o600)
    return key_file.read_text(encoding="utf-8").strip()


if PRODUCTION:
    SECRET_KEY = require("SECRET_KEY")
    DATABASE_URL = require("DATABASE_URL")
    ALLOWED_HOSTS = env_list("ALLOWED_HOSTS")
    if not ALLOWED_HOSTS:
        require("ALLOWED_HOSTS")
    DEBUG = env_bool("DEBUG", False)
else:
    SECRET_KEY = env_str("SECRET_KEY") or _development_secret_key()
    DATABASE_URL = env_str("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'opsdesk.sqlite3'}"
    ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
    DEBUG = env_bool("DEBUG", True)

CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "bootstrap",
    "opsdesk",
    "directory",
    "tickets",
    "sla",
    "inspections",
    "kpi",
    "notifications",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "opsdesk.middleware.LanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "opsdesk.urls"
WSGI_APPLICATION = "opsdesk.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "opsdesk" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "opsdesk.context_processors.navigation",
            ],
        },
    }
]

DATABASES = {
    "default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The dev server, the worker and beat share one SQLite file: wait for locks instead of failing.
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    DATABASES["default"]["CONN_MAX_AGE"] = 0
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's backend, with timestamptz values parsed in C (see opsdesk/db/postgresql/base.py).
    DATABASES["default"]["ENGINE"] = "opsdesk.db.postgresql"
if DATABASES["default"]["ENGINE"] == "opsdesk.db.postgresql" and env_bool(
    "OPSDESK_DB_PREPARED", True
):
    # Repeated queries are parsed and planned once per connection (CONN_MAX_AGE keeps them):
    # planning joins on the wide, much-indexed ticket table costs more than running them.
    # Turn off behind PgBouncer in transaction mode older than 1.21.
    DATABASES["default"]["OPTIONS"] = {
        **DATABASES["default"].get("OPTIONS", {}),
        "server_side_binding": True,
        "prepare_threshold": 5,
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "directory.User"
# Django's model backend, loading each request's user together with their roles.
AUTHENTICATION_BACKENDS = ["directory.auth.ModelBackend"]
# Django's database sessions, loaded without the ORM on every request.
SESSION_ENGINE = "opsdesk.sessions"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Internationalisation: Simplified Chinese by default, English on request.
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("简体中文")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = env_str("TIME_ZONE", "Asia/Shanghai")
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "staticfiles")))
# WhiteNoise warns on every request when the folder is missing (before the first collectstatic).
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
# Uploaded attachments live outside the web root and are only served through a permission check.
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))

# E-mail
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if PRODUCTION
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "opsdesk@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# Celery: an embedded filesystem broker by default so the dev stack needs no server.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
_broker_dir = VAR_DIR / "celery-broker"
if CELERY_BROKER_URL.startswith("filesystem://"):
    (_broker_dir / "queue").mkdir(parents=True, exist_ok=True)
    (_broker_dir / "processed").mkdir(parents=True, exist_ok=True)
    (_broker_dir / "control").mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        # Broadcast (worker control) messages; kombu's default is ./control in the cwd.
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
else:
    # A dead broker must never hang a web request: bound connect and publish time.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "socket_connect_timeout": 2,
        "socket_timeout": 5,
        "max_retries": 1,
    }
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = TIME_ZONE
# The worker and beat log through LOGGING below (JSON lines, like the web process) instead of
# replacing the root logger with Celery's own text format.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE: dict[str, dict] = {
    # Proves to /healthz that a worker consumes tasks and beat schedules them.
    "worker-heartbeat": {
        "task": "opsdesk.tasks.record_heartbeat",
        "schedule": timedelta(seconds=30),
    },
    # Closes resolved tickets nobody confirmed within OPSDESK_AUTO_CLOSE_WORKING_DAYS.
    "tickets-auto-close": {
        "task": "tickets.tasks.auto_close_resolved",
        "schedule": timedelta(minutes=15),
    },
    # Notification outbox: enqueue e-mail/robot deliveries whose publish was lost (broker down
    # when the ticket was saved), whose retry backoff has elapsed, or whose worker died
    # mid-send. Sweeps that queued up while no worker ran expire instead of piling up.
    "notifications-outbox-sweep": {
        "task": "notifications.tasks.sweep_deliveries",
        "schedule": timedelta(minutes=1),
        "options": {"expires": 55},
    },
    # SLA escalation: fire the 50% / 80% / breach levels that fell due since the last run.
    # Idempotent (a claimed row fires once), so a second beat by mistake sends nothing twice;
    # ticks queued while no worker ran expire, and the first sweep after it catches up.
    "sla-escalation-sweep": {
        "task": "sla.tasks.escalation_sweep",
        "schedule": timedelta(minutes=1),
        "options": {"expires": 55},
    },
    # Notification retention: at night (TIME_ZONE), delete notifications and finished
    # deliveries past OPSDESK_NOTIFICATION_RETENTION_DAYS / _MAX_AGE_DAYS, in small batches.
    # Idempotent; a run no worker picked up by morning expires and the next night catches up.
    "notifications-purge": {
        "task": "notifications.tasks.purge_old",
        "schedule": crontab(hour=3, minute=30),
        "options": {"expires": 3 * 60 * 60},
    },
}
OPSDESK_HEARTBEAT_MAX_AGE = timedelta(seconds=env_int("OPSDESK_HEARTBEAT_MAX_AGE", 120))

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "directory.auth.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "opsdesk.pagination.StandardPagination",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "opsdesk.errors.api_exception_handler",
    "DATETIME_FORMAT": "iso-8601",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Opsdesk API",
    "DESCRIPTION": "Service desk tickets, SLA and directory for monitoring and other clients.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Ticket kinds and link kinds are both called "kind": name the link one explicitly.
    "ENUM_NAME_OVERRIDES": {
        "TicketKindEnum": "tickets.models.Kind",
        "TicketLinkKindEnum": "tickets.models.LINK_CHOICES",
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
        "text": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": env_str("OPSDESK_LOG_FORMAT", "json"),
        }
    },
    "filters": {"skip_unhealthy_probes": {"()": "opsdesk.log_filters.SkipUnhealthyProbes"}},
    "root": {"handlers": ["stdout"], "level": env_str("OPSDESK_LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "django.request": {"filters": ["skip_unhealthy_probes"]},
    },
}

# Opsdesk application settings.
OPSDESK_ATTACHMENT_MAX_BYTES = env_int("OPSDESK_ATTACHMENT_MAX_BYTES", 20 * 1024 * 1024)
OPSDESK_ATTACHMENT_CONTENT_TYPES = env_list(
    "OPSDESK_ATTACHMENT_CONTENT_TYPES",
    [
        "text/plain",
        "text/csv",
        "application/pdf",
        "image/png",
        "image/jpeg",
        "image/gif",
        "application/zip",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/msword",
        "application/vnd.ms-excel",
    ],
)
OPSDESK_AUTO_CLOSE_WORKING_DAYS = env_int("OPSDESK_AUTO_CLOSE_WORKING_DAYS", 3)
OPSDESK_REOPEN_WINDOW_DAYS = env_int("OPSDESK_REOPEN_WINDOW_DAYS", 7)
OPSDESK_API_MAX_PAGE_SIZE = env_int("OPSDESK_API_MAX_PAGE_SIZE", 200)
# Absolute base URL for links in e-mails and robot messages, e.g. https://opsdesk.example.gov.cn
OPSDESK_SITE_URL = (env_str("OPSDESK_SITE_URL", "") or "").rstrip("/")
OPSDESK_WEBHOOKS_ENABLED = env_bool("OPSDESK_WEBHOOKS_ENABLED", True)
OPSDESK_EMAIL_NOTIFICATIONS_ENABLED = env_bool("OPSDESK_EMAIL_NOTIFICATIONS_ENABLED", True)
# Retention (days): read notifications and finished e-mail/robot deliveries are deleted after
# the first, every notification, read or not, after the second (the nightly purge).
OPSDESK_NOTIFICATION_RETENTION_DAYS = env_int("OPSDESK_NOTIFICATION_RETENTION_DAYS", 90)
OPSDESK_NOTIFICATION_MAX_AGE_DAYS = env_int("OPSDESK_NOTIFICATION_MAX_AGE_DAYS", 365)

if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    X_FRAME_OPTIONS = "DENY"
    SECURE_REFERRER_POLICY = "same-origin"
