"""Fault test on a real Redis of its own and real worker processes: the workers are SIGKILLed and
the broker restarted (losing every message) mid-build; the build still finishes, with no manual
re-run, its lost work found by the heartbeats and the broker check (the broker itself, restarted
empty, would never hand it back), and `build_stimuli --wait` says what was lost and why."""

import shutil
import socket
import subprocess
import sys
import time

import pytest

from tests.conftest import REDIS_URL, ROOT, WorkerProcess, worker_env
from tests.workers.conftest import experiment, library, video_row
from tests.workers.hold import Hold
from tests.workers.test_worker import check_files

pytestmark = [pytest.mark.redis, pytest.mark.slow, pytest.mark.django_db(transaction=True)]
PORT = 6412  # a private broker: the shared one on 6379 is never restarted


class RedisServer:
    """A redis-server without persistence on a private port: a restart loses every message."""

    def __init__(self, port, log):
        self.port, self.log, self.proc = port, log, None

    def start(self):
        exe = shutil.which("redis-server")
        if exe is None:
            pytest.fail("redis-server is not installed (apt-get install -y redis-server)")
        self.proc = subprocess.Popen(
            [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=open(self.log, "ab"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        while True:  # until it answers, or fails at once if it exits
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                if self.proc.poll() is not None:
                    log = self.log.read_text()
                    raise RuntimeError(f"redis-server on {self.port} exited:\n{log}") from None
                time.sleep(0.05)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


@pytest.fixture
def private_redis(tmp_path):
    server = RedisServer(PORT, tmp_path / "redis.log").start()
    yield server
    server.stop()


def test_a_build_finishes_after_its_workers_are_killed_and_the_broker_restarted(
    private_redis, media_root, tmp_path
):
    videos = [video_row(media_root, f"v{i}", flash_at=1.0 + i % 4)[0] for i in range(6)]
    exp = experiment(videos, library(media_root), ("random", "original"), gold_clips=1)
    hold = Hold(REDIS_URL, after_done=2)  # on the suite's broker, which is never restarted
    env = worker_env({
        "MEDIA_ROOT": str(media_root), "EMBEDDINGS_DIR": str(media_root.parent / "embeddings"),
        "CELERY_BROKER_URL": f"redis://127.0.0.1:{PORT}/0", "CELERY_RESULT_BACKEND": "",
        "BUILD_HEARTBEAT_S": "0.5", "BUILD_LOST_AFTER_S": "3", "BUILD_DISPATCH_GRACE_S": "2",
        "BUILD_WATCHDOG_S": "1",
    })  # fmt: skip
    first = WorkerProcess("default,gpu,media", {**env, **hold.env()}, tmp_path / "worker-0.log",
                          include="tests.workers.hold")
    workers = [first.wait_ready()]
    build = subprocess.Popen(
        [sys.executable, "manage.py", "build_stimuli", exp.slug, "--wait", "--interval", "0.5"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        # Mid-build: some clips done, one being made (held there), the rest waiting in the broker.
        held = hold.wait(first)
        workers[0].kill()  # SIGKILL to the worker, its pool children and ffmpeg
        private_redis.stop()
        private_redis.start()  # empty: the queued and unacknowledged messages are gone
        assert exp.stimuli.get(pk=held).status == "running"
        stranded = set(exp.stimuli.exclude(status="done").values_list("pk", flat=True))
        workers.append(WorkerProcess("default,gpu,media", env, tmp_path / "worker-1.log").wait_ready())
        out, _ = build.communicate()
    finally:
        if build.poll() is None:
            build.kill()
        for worker in workers:
            worker.stop()
    assert build.returncode == 0, out
    assert set(exp.stimuli.values_list("status", flat=True)) == {"done"}, out
    check_files(exp, media_root)
    # Every stranded clip was found lost. A busy machine may also take live work for lost (a late
    # heartbeat or answer): sending it twice is safe, and the clip is still built once (check_files).
    lost = set(exp.stimuli.filter(lost__gt=0).values_list("pk", flat=True))
    assert stranded <= lost, out
    reasons = set(exp.stimuli.filter(lost__gt=0).values_list("lost_reason", flat=True))
    assert any(r.startswith("its worker stopped: no heartbeat for") for r in reasons), reasons
    assert any(r.startswith("its task was in neither the broker nor a live worker") for r in reasons), reasons
    assert "lost: " in out and "re-dispatched (" in out, out
