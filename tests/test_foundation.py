"""The deployment path: settings from the environment, PostgreSQL, and a real Celery worker."""

import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.db import connection

from tests.conftest import ROOT


def run_manage(*args, env=None):
    base = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, "DJANGO_SETTINGS_MODULE": "evalsite.settings", **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_it_refuses_to_start_without_secret_key_when_debug_is_off():
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    env.update(DEBUG="false", DJANGO_SETTINGS_MODULE="evalsite.settings")
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("DEBUG", "maybe", "DEBUG must be a boolean"),
        ("CELERY_VISIBILITY_TIMEOUT", "soon", "CELERY_VISIBILITY_TIMEOUT must be an integer"),
        ("DATABASE_URL", "nosuchdb://x", "DATABASE_URL is not a database URL"),
        ("CELERY_BROKER_URL", "127.0.0.1:6379", "CELERY_BROKER_URL must be a URL like redis://host:port/"),
        ("LOG_LEVEL", "loud", "LOG_LEVEL must be one of debug, info, warning, error, critical, got 'loud'"),
        ("RATING_TOO_FAST", "ignore", "RATING_TOO_FAST must be one of refuse, flag, got 'ignore'"),
        ("RATING_PLAY_TOLERANCE_S", "half", "RATING_PLAY_TOLERANCE_S must be a number"),
        ("SEARCH_EF", "0", "SEARCH_EF must be at least 1, got 0"),
        ("PARTICIPANT_FRAME_ANCESTORS", "mturk.com", "'mturk.com' is not an origin like https://host"),
    ],
)
def test_it_names_a_bad_environment_value(name, value, message):
    result = run_manage("check", env={name: value})
    assert result.returncode != 0
    assert message in result.stderr


def test_it_passes_the_deployment_checklist_with_production_settings():
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        env={
            "DEBUG": "false",
            "SECRET_KEY": "x" * 30 + "-production-secret-with-entropy-8c1f",
            "SECURE_SSL_REDIRECT": "true",
            "SESSION_COOKIE_SECURE": "true",
            "CSRF_COOKIE_SECURE": "true",
            "SECURE_HSTS_SECONDS": "31536000",
            "SECURE_HSTS_PRELOAD": "true",
        },
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_it_routes_tasks_to_the_declared_queues():
    from evalsite.celery import app

    assert {q.name for q in app.conf.task_queues} == {"default", "gpu", "media"}
    assert app.amqp.router.route({}, "workers.gpu.embed_library")["queue"].name == "gpu"
    assert app.amqp.router.route({}, "workers.media.mux_stimulus")["queue"].name == "media"
    assert app.conf.task_acks_late and app.conf.task_reject_on_worker_lost
    assert app.conf.worker_prefetch_multiplier == 1
    assert app.conf.broker_transport_options["visibility_timeout"] > app.conf.task_time_limit


@pytest.mark.postgres
@pytest.mark.django_db
def test_it_runs_on_postgresql():
    assert connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute("select version()")
        assert "PostgreSQL" in cursor.fetchone()[0]


@pytest.mark.redis
def test_it_round_trips_a_task_through_a_real_worker(start_worker):
    from evalsite.celery import ping

    worker = start_worker("default")
    result = ping.apply_async(args=["hello"], queue="default")
    reply = result.get(timeout=60)
    assert reply["pong"] == "hello"
    assert reply["pid"] not in (os.getpid(), worker.proc.pid)  # a prefork child ran it
    assert settings.CELERY_BROKER_URL.startswith("redis://")
