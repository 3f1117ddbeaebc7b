"""Heartbeats: while a task works, it stamps `heartbeat_at` on the stimuli it is responsible for,
every BUILD_HEARTBEAT_S, so that workers.recovery can tell a stopped worker's work from work in
progress without waiting for the broker's visibility timeout."""

import contextlib
import logging
import threading

from django.conf import settings
from django.db import connection
from django.utils import timezone

log = logging.getLogger(__name__)


@contextlib.contextmanager
def beating(rows, interval: float | None = None):
    """While the block runs, a thread sets `heartbeat_at` on `rows` (a queryset) every
    `interval` seconds, on its own database connection. Inside a transaction (the in-process
    build under a test) there is nobody to tell, and a second connection would wait on its locks:
    no thread then."""
    interval = settings.BUILD_HEARTBEAT_S if interval is None else interval
    rows.update(heartbeat_at=timezone.now())
    if interval <= 0 or connection.in_atomic_block:
        yield
        return
    stop = threading.Event()

    def beat():
        try:
            while not stop.wait(interval):
                rows.update(heartbeat_at=timezone.now())
        except Exception:  # a database outage: the task itself will see it too
            log.exception("heartbeat stopped")
        finally:
            connection.close()

    thread = threading.Thread(target=beat, name="heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=interval + 5)
