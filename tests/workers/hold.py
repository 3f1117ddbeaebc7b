"""A controlled pause for the fault tests: a real worker started with `--include tests.workers.hold`
stops at the first work it claims once enough of its build is done (workers.signals.work_claimed),
tells the test which, and waits there until the test kills it. So the test kills it in the middle
of a clip or a chunk, whatever the machine's speed, instead of polling for such a moment."""

import os
import threading
import uuid

import redis
from django.dispatch import receiver

from workers.signals import work_claimed


def _done(sender, pk) -> int:
    """Stimuli of the claimed stimulus's experiment, or chunks of the claimed chunk's run, done."""
    from evalsite.experiments.models import Stimulus
    from workers.models import EmbeddingChunk

    if sender is Stimulus:
        return Stimulus.objects.get(pk=pk).experiment.stimuli.filter(status=Stimulus.Status.DONE).count()
    return EmbeddingChunk.objects.get(pk=pk).run.chunks.filter(done_at__isnull=False).count()


@receiver(work_claimed)
def _hold(sender, pk, **kwargs):
    key = os.environ.get("HOLD_KEY")
    if not key:
        return
    client = redis.Redis.from_url(os.environ["HOLD_REDIS_URL"])
    wanted = client.get(key)
    if wanted is None or _done(sender, pk) < int(wanted) or not client.delete(key):
        return  # no hold asked, not yet, or another claim took it
    client.rpush(f"{key}:held", pk)
    threading.Event().wait()  # until the test kills this worker


class Hold:
    """Asks the workers started with `env()` to hold the first work claimed once `after_done`
    clips (or chunks) of its build are done."""

    def __init__(self, redis_url: str, after_done: int):
        self.url, self.key = redis_url, f"hold-{uuid.uuid4().hex}"
        self.client = redis.Redis.from_url(redis_url)
        self.client.set(self.key, after_done)

    def env(self) -> dict:
        return {"HOLD_REDIS_URL": self.url, "HOLD_KEY": self.key}

    def wait(self, worker) -> int:
        """The primary key of the held work, once a worker holds it; fails if the worker exits."""
        while True:
            held = self.client.blpop([f"{self.key}:held"], timeout=1)
            if held is not None:
                return int(held[1])
            if worker.proc.poll() is not None:
                raise RuntimeError(f"the worker exited before holding:\n{worker.log.read_text()[-4000:]}")
