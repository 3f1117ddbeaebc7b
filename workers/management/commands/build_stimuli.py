"""manage.py build_stimuli EXPERIMENT [--wait] [--no-progress]"""

import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from evalsite.experiments.models import Experiment
from workers.build import build_progress, enqueue_build, run_build


class Command(BaseCommand):
    help = (
        "Builds the stimuli of an experiment (id or slug): in this process when no broker is "
        "configured (EMBEDDED_TASKS), else on the Celery workers. Finished stimuli are kept."
    )

    def add_arguments(self, parser):
        parser.add_argument("experiment", help="experiment id or slug")
        parser.add_argument("--wait", action="store_true", help="with a broker: wait, printing progress")
        parser.add_argument("--no-progress", action="store_true", help="no progress bars")
        parser.add_argument("--interval", type=float, default=2.0, help="seconds between progress lines")
        parser.add_argument("--timeout", type=float, default=0, help="with --wait: give up after N s")

    def handle(self, *args, **options):
        experiment = find_experiment(options["experiment"])
        if settings.EMBEDDED_TASKS:
            progress = run_build(experiment.pk, progress=not options["no_progress"])
        else:
            enqueue_build(experiment.pk)
            self.stdout.write(f"Queued the build of '{experiment}' on the workers.")
            if not options["wait"]:
                return
            progress = self.wait(experiment, options["interval"], options["timeout"])
        self.stdout.write(format_progress(progress))
        failed = experiment.stimuli.filter(status="failed").order_by("pk")
        for stimulus in failed:
            self.stderr.write(f"failed: {stimulus.label}: {stimulus.error}")
        if failed:
            raise CommandError(f"{len(failed)} stimuli failed (errors above); fix them and build again")

    def wait(self, experiment, interval, timeout):
        started = time.monotonic()
        while True:
            progress = build_progress(experiment)
            self.stdout.write(one_line(progress))
            if not any(c["pending"] + c["running"] for c in progress.values()):
                return progress
            if timeout and time.monotonic() - started > timeout:
                raise CommandError(f"not finished after {timeout:.0f} s: {one_line(progress)}")
            time.sleep(interval)


def find_experiment(key: str) -> Experiment:
    query = Experiment.objects.filter(pk=int(key)) if key.isdigit() else Experiment.objects.filter(slug=key)
    experiment = query.first()
    if experiment is None:
        raise CommandError(f"no experiment with id or slug {key!r}")
    return experiment


def one_line(progress: dict) -> str:
    total = {s: sum(c[s] for c in progress.values()) for s in ("done", "failed", "running", "pending")}
    return ", ".join(f"{n} {s}" for s, n in total.items())


def format_progress(progress: dict) -> str:
    width = max([len(label) for label in progress] + [6])
    lines = [f"{'method':{width}s} {'done':>6s} {'failed':>6s} {'running':>7s} {'pending':>7s}"]
    for label, c in progress.items():
        lines.append(f"{label:{width}s} {c['done']:6d} {c['failed']:6d} {c['running']:7d} {c['pending']:7d}")
    return "\n".join(lines)
