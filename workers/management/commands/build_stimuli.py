"""manage.py build_stimuli EXPERIMENT [--wait] [--no-progress]"""

from django.core.management.base import BaseCommand, CommandError

from evalsite.experiments.hubs import hub_shares
from evalsite.experiments.models import Experiment
from workers.build import build_mode, build_problems, describe_mode, start_build, wait_for_build


class Command(BaseCommand):
    help = (
        "Builds the stimuli of a draft experiment (id or slug), refusing as the admin does when it is not "
        "ready to build: in this process when no broker is "
        "configured (EMBEDDED_TASKS), else on the Celery workers. Finished stimuli are kept."
    )

    def add_arguments(self, parser):
        parser.add_argument("experiment", help="experiment id or slug")
        parser.add_argument("--wait", action="store_true", help="with a broker: wait, printing progress")
        parser.add_argument("--no-progress", action="store_true", help="no progress bars")
        parser.add_argument("--interval", type=float, default=2.0, help="seconds between progress checks")
        parser.add_argument("--timeout", type=float, default=0, help="with --wait: give up after N s")

    def handle(self, *args, **options):
        experiment = find_experiment(options["experiment"])
        problems = build_problems(experiment)  # the admin's check: refused before anything is built
        if problems:
            raise CommandError(f"'{experiment}' cannot be built: " + "; ".join(problems))
        self.stdout.write(f"Building '{experiment}' {describe_mode(experiment.pk)}.")
        start_build(experiment.pk, progress=not options["no_progress"])
        if build_mode() == "workers" and not options["wait"]:
            return
        try:
            progress = wait_for_build(experiment, self.stdout.write, options["interval"], options["timeout"])
        except TimeoutError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(format_progress(progress))
        self.stdout.write(format_hubness(hub_shares(experiment)))
        failed = experiment.stimuli.filter(status="failed").order_by("pk")
        for stimulus in failed:
            self.stderr.write(f"failed: {stimulus.label}: {stimulus.error}")
        if failed:
            raise CommandError(f"{len(failed)} stimuli failed (errors above); fix them and build again")


def find_experiment(key: str) -> Experiment:
    query = Experiment.objects.filter(pk=int(key)) if key.isdigit() else Experiment.objects.filter(slug=key)
    experiment = query.first()
    if experiment is None:
        raise CommandError(f"no experiment with id or slug {key!r}")
    return experiment


def format_progress(progress: dict) -> str:
    width = max([len(label) for label in progress] + [6])
    lines = [f"{'method':{width}s} {'done':>6s} {'failed':>6s} {'running':>7s} {'pending':>7s}"]
    for label, c in progress.items():
        lines.append(f"{label:{width}s} {c['done']:6d} {c['failed']:6d} {c['running']:7d} {c['pending']:7d}")
    return "\n".join(lines)


def format_hubness(shares: dict) -> str:
    """One line per method: the share of its videos that got its most chosen sound."""
    lines = ["hub share (videos given the method's most chosen sound):"]
    for label, h in shares.items():
        warn = "  <- one sound for most videos" if h["collapsed"] else ""
        option = "" if h["hubness"] == "none" else f", hubness option {h['hubness']}"
        lines.append(f"  {label}: {h['hub_share']:.2f} ({h['videos']} videos, {h['distinct']} distinct "
                     f"sounds{option}){warn}")
    return "\n".join(lines) if shares else "hub share: no sounds retrieved yet"
