"""The project's one Celery app: reads CELERY_* settings and discovers tasks in installed apps."""

import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "evalsite.settings")

app = Celery("evalsite")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = [Queue(name) for name in ("default", "gpu", "media")]
app.autodiscover_tasks()


@app.task(name="evalsite.ping", ignore_result=False)
def ping(value):
    """Round-trips through the broker; used by health checks and the deployment tests."""
    return {"pong": value, "pid": os.getpid()}
