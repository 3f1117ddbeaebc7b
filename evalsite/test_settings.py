"""Settings for the test suite: production settings (DEBUG off) over plain HTTP on localhost."""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("SESSION_COOKIE_SECURE", "false")
os.environ.setdefault("CSRF_COOKIE_SECURE", "false")
os.environ.setdefault("SECURE_HSTS_SECONDS", "0")
os.environ.setdefault("WHITENOISE_USE_FINDERS", "true")
# Tests talk to a real broker (database 15, apart from a development one); tests that want tasks
# run in-process use the `eager_tasks` fixture.
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/15")
# Playwright's sync API runs an event loop; the ORM calls in those tests are still sequential.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from .settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins in tests
