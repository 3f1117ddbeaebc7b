"""Shared fixtures: the cast (researcher, participant, outsider), real services, a real worker.

Tests of the deployment path need PostgreSQL and Redis. Where a service is missing they skip
with the reason, except under CI=true, where a missing service is a failure.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.getenv("CI", "").lower() == "true"
REDIS_URL = os.environ["CELERY_BROKER_URL"]  # set by evalsite.test_settings


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def redis_available() -> bool:
    url = urlparse(REDIS_URL)
    return url.scheme.startswith("redis") and _reachable(url.hostname or "127.0.0.1", url.port or 6379)


def _missing(reason: str):
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: the deployment-path tests must run)")
    pytest.skip(reason)


def pytest_runtest_setup(item):
    if item.get_closest_marker("redis") and not redis_available():
        _missing(f"Redis is not reachable at {REDIS_URL}")
    if item.get_closest_marker("postgres"):
        from django.conf import settings

        if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
            _missing("DATABASE_URL does not point at PostgreSQL")


@pytest.fixture
def researcher(django_user_model):
    return django_user_model.objects.create_user(
        "researcher",
        "researcher@example.org",
        "researcher-pass-42",
        is_staff=True,
        is_superuser=True,
    )


@pytest.fixture
def outsider(django_user_model):
    return django_user_model.objects.create_user("outsider", "o@example.org", "outsider-pass-42")


def worker_env(extra: dict | None = None) -> dict:
    """Environment for a process that must see the test database and the test broker."""
    from django.db import connection

    env = dict(os.environ)
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.postgresql":
        port = db.get("PORT") or 5432
        user = db.get("USER") or ""
        env["DATABASE_URL"] = f"postgres://{user}@{db.get('HOST') or '127.0.0.1'}:{port}/{db['NAME']}"
    else:
        env["DATABASE_URL"] = f"sqlite:///{db['NAME']}"
    env["CELERY_BROKER_URL"] = REDIS_URL
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra or {})
    return env


class WorkerProcess:
    """A real `celery -A evalsite worker` process, started for a test and stopped after it."""

    def __init__(self, queues: str, env: dict, log: Path, concurrency: int = 1, args: list | None = None,
                 include: str | None = None):
        """`include`: a module the worker imports at start (`celery worker --include`)."""
        self.log = log
        self._out = open(log, "ab")
        cmd = [sys.executable, "-m", "celery", *args] if args else [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "evalsite",
            "worker",
            "-Q",
            queues,
            "--pool",
            "prefork",
            "--concurrency",
            str(concurrency),
            "--loglevel",
            "INFO",
            "--without-gossip",
            "--without-mingle",
            "-n",
            f"test-{os.getpid()}-{time.time_ns()}@%h",
            *(["--include", include] if include else []),
        ]  # fmt: skip
        self.proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=env,
            stdout=self._out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self):
        """Returns once the worker logs "ready."; fails at once if it exits first. A slow start (a
        busy machine) only waits longer: the suite's per-test timeout guards against a hang."""
        while b"ready." not in self.log.read_bytes():
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited early:\n{self.log.read_text()[-4000:]}")
            time.sleep(0.2)
        return self

    def kill(self, sig=signal.SIGKILL):
        # The whole process group: the prefork children must die with the parent.
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=30)

    def stop(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
            except ProcessLookupError:
                pass
        self._out.close()


@pytest.fixture
def eager_tasks():
    """Runs Celery tasks in the calling process, as the embedded (no broker) mode does."""
    from evalsite.celery import app

    app.conf.task_always_eager = app.conf.task_eager_propagates = True
    yield app
    app.conf.task_always_eager = app.conf.task_eager_propagates = False


@pytest.fixture
def purge_broker():
    """Empties the test broker's queues so tasks of earlier tests are not picked up."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    for name in ("default", "gpu", "media", "celery", "unacked", "unacked_index"):
        client.delete(name)
    yield client


@pytest.fixture
def start_worker(transactional_db, purge_broker, tmp_path):
    """Starts real worker processes: `start_worker("gpu,media")` returns a ready WorkerProcess."""
    workers = []

    def start(queues="default,gpu,media", concurrency=1, env=None, wait=True, args=None, include=None):
        """`args`: the whole command line after `celery` instead of the suite's own."""
        log = tmp_path / f"worker-{len(workers)}.log"
        worker = WorkerProcess(queues, worker_env(env), log, concurrency, args, include)
        workers.append(worker)
        return worker.wait_ready() if wait else worker

    yield start
    for worker in workers:
        worker.stop()


CHROMIUM = "/usr/bin/chromium"
BROWSER_TIMEOUT_MS = 60_000
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]


@pytest.fixture(scope="session")
def chromium():
    """Headless Chromium (Debian's package) driven by Playwright, shared by the browser tests."""
    if not Path(CHROMIUM).exists():
        _missing(f"{CHROMIUM} is not installed (apt-get install -y chromium)")
    from playwright.sync_api import expect, sync_playwright

    # Page actions and `expect` wait for their event up to this long: a guard against a hang, long
    # enough for a busy machine (Playwright's own defaults, 30 s and 5 s, assume an idle one).
    expect.set_options(timeout=BROWSER_TIMEOUT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def new_page(chromium):
    """Opens a page in a fresh browser context (own cookies); `new_page(viewport=...)`."""
    contexts = []

    def open_page(**context_options):
        context = chromium.new_context(**context_options)
        context.set_default_timeout(BROWSER_TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()
