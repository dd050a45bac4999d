"""Django settings of the central server, read from the environment.

| variable | meaning | default |
| --- | --- | --- |
| ``SEED_CENTRAL_DB`` | SQLite path or ``postgresql://`` URL | ``central.db`` |
| ``SEED_CENTRAL_SECRET_KEY`` | the key that signs sessions | credential ``secret_key``, else a file beside the database |
| ``SEED_CENTRAL_DEBUG`` | ``1`` for tracebacks in pages | off |
| ``SEED_CENTRAL_HOSTS`` | comma-separated host names the console answers to | ``localhost,127.0.0.1,[::1]`` |
| ``SEED_CENTRAL_TIME_ZONE`` | the zone pages show times in | ``Asia/Shanghai`` |
| ``SEED_REPORTS_DIR`` | where scheduled reports' files are kept (not a folder the web serves) | ``reports`` by the database |
| ``SEED_COMPANY_NAME`` | the company printed on every report | ``Seed 考勤`` |
| ``SEED_EVIDENCE_RETENTION_DAYS`` | days a settled request's evidence (a sick note) is kept; ``0``: always | ``730`` |
| ``SEED_OVERTIME_LIMIT_H`` | the monthly overtime line the pages measure each employee against; ``0``: none shown | ``36`` |
| ``SEED_CENTRAL_SESSION_IDLE_MIN`` | idle minutes before a console session is signed out (refreshes do not count); ``0``: never | ``120`` |
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

from django.utils.translation import gettext_lazy as _

from central.dburl import DEFAULT_DATABASE, database_settings, is_postgresql
from contract.keyfiles import KeyFileError, read_private_file

BASE_DIR = Path(__file__).resolve().parent
DATABASE_TARGET = os.environ.get("SEED_CENTRAL_DB", DEFAULT_DATABASE)


def _secret_key() -> str:
    if os.environ.get("SEED_CENTRAL_SECRET_KEY"):
        return os.environ["SEED_CENTRAL_SECRET_KEY"]
    credentials = os.environ.get("CREDENTIALS_DIRECTORY")
    if credentials and (Path(credentials) / "secret_key").is_file():
        return read_private_file(Path(credentials) / "secret_key", "console secret key").decode().strip()
    folder = Path.cwd() if is_postgresql(DATABASE_TARGET) else Path(database_settings(DATABASE_TARGET)["NAME"]).parent
    key_file = folder / "central-secret.key"
    try:
        return read_private_file(key_file, "console secret key").decode().strip()
    except KeyFileError:
        raise  # readable by others: refused, never used (seed-central prints the chmod to run)
    except FileNotFoundError:
        folder.mkdir(parents=True, exist_ok=True)
        value = secrets.token_urlsafe(50)
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(value)
        return value
    except OSError:  # a read-only folder: sessions last as long as the process
        return secrets.token_urlsafe(50)


SECRET_KEY = _secret_key()
# an evidence file (central.attendance.evidence, 5 MB at most) is read in memory, never written to a temporary file
FILE_UPLOAD_MAX_MEMORY_SIZE = 6 * 1024 * 1024
DEBUG = os.environ.get("SEED_CENTRAL_DEBUG") == "1"
ALLOWED_HOSTS = [h.strip() for h in os.environ.get("SEED_CENTRAL_HOSTS", "localhost,127.0.0.1,[::1]").split(",") if h.strip()]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "ninja",  # Swagger UI for /api/v1/docs from its bundled static files, nothing from the internet
    "central.people",
    "central.accounts",
    "central.ingest",
    "central.attendance",
    "central.reports",
    "central.webhooks",
    "central.alerts",
    "central.live",
    "central.console",
    "central.api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "central.console.middleware.ChineseFirstMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "central.console.middleware.PasswordChangeRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "central.console.middleware.IdleSignOutMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "central.urls"
WSGI_APPLICATION = "central.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "console:login"
LOGIN_REDIRECT_URL = "console:home"
LOGOUT_REDIRECT_URL = "console:login"

TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "DIRS": [],
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request",
        "django.template.context_processors.i18n",
        "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
        "central.alerts.context_processors.alerts",
        "central.attendance.context_processors.swaps",
    ]},
}]

DATABASES = {"default": database_settings(DATABASE_TARGET)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

PASSWORD_HASHERS = [  # Django's default first; then the one-time passwords' (central/accounts/hashers.py)
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
    "central.accounts.hashers.OneTimePasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("简体中文")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
LANGUAGE_COOKIE_NAME = "seed_language"
USE_I18N = True
TIME_ZONE = os.environ.get("SEED_CENTRAL_TIME_ZONE", "Asia/Shanghai")
USE_TZ = True


def _whole_number(name: str, default: int, maximum: int, meaning: str) -> int:
    raw = os.environ.get(name, str(default)).strip()
    if not raw.isdigit() or int(raw) > maximum:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(f"{name} must be a whole number of {meaning}, 0 to {maximum}, not {raw!r}")
    return int(raw)


# two years by default: as long as the pay records a leave's evidence stands behind (《工资支付暂行规定》 第六条)
EVIDENCE_RETENTION_DAYS = _whole_number("SEED_EVIDENCE_RETENTION_DAYS", 730, 36_500,
                                        "days (0: kept until the employee's data are deleted)")
# 《劳动法》 第四十一条: overtime "每月不得超过三十六小时"; a company whose hours are approved otherwise (综合工时) sets
# its own line, 0 for none (central.attendance.overtime_limit)
OVERTIME_LIMIT_H = _whole_number("SEED_OVERTIME_LIMIT_H", 36, 744, "hours a month (0: no line)")
# a console left open on a shared office machine is signed out (central.console.middleware.IdleSignOutMiddleware)
SESSION_IDLE_MIN = _whole_number("SEED_CENTRAL_SESSION_IDLE_MIN", 120, 7 * 24 * 60, "minutes (0: never)")

STATIC_URL = "static/"
STATIC_ROOT = os.environ.get("SEED_CENTRAL_STATIC_ROOT") or None
WHITENOISE_USE_FINDERS = True  # static files straight from the installed apps: no collectstatic step
WHITENOISE_AUTOREFRESH = DEBUG

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django.request": {"handlers": ["console"], "level": "WARNING"}},
}
