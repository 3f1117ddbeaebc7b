"""Settings for the evaluation site, read from the environment.

Every variable goes through a small typed helper (env*) that raises ImproperlyConfigured on a bad
value, so a typo in a deployment fails at start-up instead of at the first request; DATABASE_URL
is parsed by dj-database-url with the same kind of error, and MEDIA_URL is checked by Django.
"""

import os
from pathlib import Path
from urllib.parse import urlparse

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"


def envbool(name: str, default: str) -> bool:
    value = os.getenv(name, default).strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false), got {value!r}")


def envint(name: str, default: str) -> int:
    return _envnumber(name, default, int, "an integer")


def envfloat(name: str, default: str) -> float:
    return _envnumber(name, default, float, "a number")


def _envnumber(name, default, parse, what):
    value = os.getenv(name, default)
    try:
        return parse(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be {what}, got {value!r}") from None


def envchoice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = os.getenv(name, default).strip().lower()
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def envlist(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.getenv(name, default).split(",") if item.strip()]


def envurl(name: str, schemes: tuple[str, ...]) -> str:
    """A URL of one of `schemes`, or "" when the variable is unset or empty."""
    value = os.getenv(name, "").strip()
    if value and urlparse(value).scheme not in schemes:
        raise ImproperlyConfigured(f"{name} must be a URL like {schemes[0]}://host:port/..., got {value!r}")
    return value


def envpath(name: str, default: Path) -> Path:
    value = os.getenv(name)
    return Path(value).expanduser().resolve() if value else default


DEBUG = envbool("DEBUG", "false")


def envsecret(name: str) -> str:
    value = os.getenv(name, "")
    if value:
        return value
    if DEBUG:
        # Only a development server may run on a key everybody can read.
        return "dev-only-insecure-key-never-use-in-production-0123456789abcdefghijkl"
    raise ImproperlyConfigured(f"{name} must be set when DEBUG is off")


SECRET_KEY = envsecret("SECRET_KEY")
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "retrieval",
    "evalsite.experiments",
    "evalsite.rating",
    "workers",
    "evalsite.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "evalsite.rating.cookies.PartitionedCookies",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "evalsite.urls"
WSGI_APPLICATION = "evalsite.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]


def database_config() -> dj_database_url.DBConfig:
    url = os.getenv("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}")
    try:
        config = dj_database_url.parse(url, conn_max_age=envint("DB_CONN_MAX_AGE", "60"))
    except ValueError as exc:
        raise ImproperlyConfigured(f"DATABASE_URL is not a database URL: {exc}") from None
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # Several processes (web, worker, build subprocess) share the file: wait for locks.
        config["OPTIONS"] = {"timeout": 30, "transaction_mode": "IMMEDIATE"}
        config["CONN_MAX_AGE"] = 0
        # A file, not memory, so that worker processes started by tests see the test data.
        config["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
        VAR_DIR.mkdir(exist_ok=True)  # SQLite makes the file but not its folder (a fresh clone has none)
    return config


DATABASES = {"default": database_config()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = envpath("STATIC_ROOT", VAR_DIR / "static")
MEDIA_URL = os.getenv("MEDIA_URL", "/media/").strip()  # Django refuses one without its closing slash
MEDIA_ROOT = envpath("MEDIA_ROOT", VAR_DIR / "media")
# Uploaded videos can be large; stream them to disk instead of memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# Serve static files straight from the apps (no collectstatic) in development and tests.
WHITENOISE_USE_FINDERS = envbool("WHITENOISE_USE_FINDERS", "true" if DEBUG else "false")

# Where trained checkpoints and embedding caches live, unless a path is given explicitly.
MODELS_DIR = envpath("MODELS_DIR", VAR_DIR / "models")
EMBEDDINGS_DIR = envpath("EMBEDDINGS_DIR", VAR_DIR / "embeddings")
# Libraries of at least this many sounds are searched with a faiss HNSW graph (0: always exact).
SEARCH_APPROXIMATE_FROM = envint("SEARCH_APPROXIMATE_FROM", "100000")
# Candidates the HNSW graph keeps per query (faiss efSearch): higher finds the true nearest sound
# more often and costs more per query (bench/search.py: 32, 128, 512). Read at search time.
SEARCH_EF = envint("SEARCH_EF", "128")
if SEARCH_EF < 1:
    raise ImproperlyConfigured(f"SEARCH_EF must be at least 1, got {SEARCH_EF}")
# Sounds per embedding task: a larger library is embedded by one gpu task per chunk.
EMBEDDING_CHUNK = envint("EMBEDDING_CHUNK", "4096")

# Security: strict by default, relaxed only for local development over plain HTTP.
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", "false" if DEBUG else "true")
SESSION_COOKIE_SECURE = envbool("SESSION_COOKIE_SECURE", "false" if DEBUG else "true")
CSRF_COOKIE_SECURE = envbool("CSRF_COOKIE_SECURE", "false" if DEBUG else "true")
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", "0" if DEBUG else "31536000")
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", "false")
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if envbool("BEHIND_HTTPS_PROXY", "false") else None
)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# --- Participant pages ------------------------------------------------------------------
# A rating sent sooner after playback began than the clip lasts, less the tolerance (seconds),
# is refused with a message ("refuse") or stored with Rating.too_fast for screening ("flag").
RATING_TOO_FAST = envchoice("RATING_TOO_FAST", "refuse", ("refuse", "flag"))
RATING_PLAY_TOLERANCE_S = envfloat("RATING_PLAY_TOLERANCE_S", "1.0")
# Origins that may frame the participant pages (Content-Security-Policy frame-ancestors), for
# MTurk's ExternalQuestion; empty: same origin only. The admin and researcher pages stay DENY.
PARTICIPANT_FRAME_ANCESTORS = envlist(
    "PARTICIPANT_FRAME_ANCESTORS", "https://worker.mturk.com,https://workersandbox.mturk.com,https://www.mturk.com"
)
for _origin in PARTICIPANT_FRAME_ANCESTORS:
    if not _origin.startswith(("https://", "http://")) or _origin.count("/") != 2:
        raise ImproperlyConfigured(f"PARTICIPANT_FRAME_ANCESTORS: {_origin!r} is not an origin like https://host")
# Where the finish page may send an MTurk assignment (the HIT's turkSubmitTo parameter).
MTURK_SUBMIT_TO = envlist("MTURK_SUBMIT_TO", "https://www.mturk.com,https://workersandbox.mturk.com")
# A framed page gets its cookies only when they are SameSite=None, which browsers accept on HTTPS.
PARTICIPANT_COOKIE_SAMESITE = "None" if PARTICIPANT_FRAME_ANCESTORS and SESSION_COOKIE_SECURE else "Lax"
CSRF_COOKIE_SAMESITE = "None" if PARTICIPANT_FRAME_ANCESTORS and CSRF_COOKIE_SECURE else "Lax"
# Browsers block third-party cookies by default: those SameSite=None cookies are also sent
# Partitioned (CHIPS, evalsite.rating.cookies), which a frame of another site may keep. A CSRF
# failure on a participant page is a readable page that the frame may show.
CSRF_FAILURE_VIEW = "evalsite.rating.views.csrf_failure"

# --- Celery -------------------------------------------------------------------------------
# No broker configured is the embedded mode: a build runs as plain function calls
# (workers.build.run_build) in a process of its own started by the site, in `manage.py
# build_stimuli` or in `manage.py demo`, never inside a web request; no task is sent.
CELERY_BROKER_URL = envurl("CELERY_BROKER_URL", ("redis", "rediss", "amqp", "amqps"))
EMBEDDED_TASKS = not CELERY_BROKER_URL
# Progress lives in the database; a result backend only serves health checks (evalsite.ping).
CELERY_RESULT_BACKEND = envurl("CELERY_RESULT_BACKEND", ("redis", "rediss", "db+postgresql", "rpc")) or (
    CELERY_BROKER_URL if CELERY_BROKER_URL.startswith(("redis://", "rediss://")) else None
)
CELERY_RESULT_EXPIRES = 3600
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_DEFAULT_QUEUE = "default"
# Tasks are routed by name: workers.gpu.* need the model, workers.media.* need ffmpeg only.
CELERY_TASK_ROUTES = {
    "workers.gpu.*": {"queue": "gpu"},
    "workers.media.*": {"queue": "media"},
}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = envint("CELERY_TASK_SOFT_TIME_LIMIT", "1800")
CELERY_TASK_TIME_LIMIT = envint("CELERY_TASK_TIME_LIMIT", "1900")
# Redis redelivers an unacknowledged task after this long: it must exceed the longest task.
# Videos accepted by import_media and the upload form (evalsite.experiments.importer): at least
# VIDEO_MIN_SECONDS long (a video shorter than the models' 6.4 s window is padded for embedding
# only: docs/site-researcher.md), at most VIDEO_MAX_SECONDS long and this large (long side x short
# side, either orientation); 0 turns a maximum off.
VIDEO_MIN_SECONDS = envfloat("VIDEO_MIN_SECONDS", "1")
VIDEO_MAX_SECONDS = envfloat("VIDEO_MAX_SECONDS", "300")
VIDEO_MAX_LONG_SIDE = envint("VIDEO_MAX_LONG_SIDE", "1920")
VIDEO_MAX_SHORT_SIDE = envint("VIDEO_MAX_SHORT_SIDE", "1080")
# A file of an imported method (manage.py import_method, the admin upload) larger than this is
# refused before it is read; a zip upload may hold at most this much once unpacked.
IMPORTED_MAX_FILE_MB = envint("IMPORTED_MAX_FILE_MB", "200")
# Build health (workers.health): running tasks beat every BUILD_HEARTBEAT_S; a running stimulus
# without a beat for BUILD_LOST_AFTER_S, or a pending one whose message is neither in the broker
# nor on a live worker (BUILD_DISPATCH_GRACE_S after it was sent), is lost and sent again. The
# check runs every BUILD_WATCHDOG_S in each worker and in `build_stimuli --wait`.
BUILD_HEARTBEAT_S = envfloat("BUILD_HEARTBEAT_S", "10")
BUILD_LOST_AFTER_S = envfloat("BUILD_LOST_AFTER_S", "60")
BUILD_DISPATCH_GRACE_S = envfloat("BUILD_DISPATCH_GRACE_S", "15")
BUILD_WATCHDOG_S = envfloat("BUILD_WATCHDOG_S", "30")
# The experiment page asks the workers which queues they consume (workers.liveness) and reuses
# their answer this many seconds: a queue without a worker is reported within about this long.
QUEUE_CHECK_S = envfloat("QUEUE_CHECK_S", "10")
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": envint("CELERY_VISIBILITY_TIMEOUT", "7200"),
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

LOG_LEVEL = envchoice("LOG_LEVEL", "info", ("debug", "info", "warning", "error", "critical")).upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
}
