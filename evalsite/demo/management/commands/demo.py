"""`manage.py demo`: a complete study from nothing to an open experiment, then the site."""

import time
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse

from evalsite.demo import steps


class Command(BaseCommand):
    help = (
        "Generates a synthetic dataset, trains the three variants, prints the objective tables, "
        "builds an experiment's clips, opens it and serves the site. Re-running reuses what exists."
    )

    def add_arguments(self, parser):
        parser.add_argument("--no-serve", action="store_true", help="Do everything but serve; exit 0.")
        parser.add_argument("--small", action="store_true", help="A smaller dataset and fewer epochs.")
        parser.add_argument("--dir", type=Path, default=settings.VAR_DIR / "demo",
                            help="Where the dataset and checkpoints go (default: var/demo).")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args, no_serve, small, dir, seed, host, port, **options):
        started = time.monotonic()
        root = dir.resolve()
        (root / "models").mkdir(parents=True, exist_ok=True)
        size = steps.SIZES["small" if small else "default"]
        out = self.say

        call_command("migrate", interactive=False, verbosity=0)
        data = steps.dataset(root, size, seed, out)
        models = steps.train_models(data, root, size, seed, out)
        steps.evaluate(data, models, out)
        library = steps.import_media(data, out)
        exp = steps.experiment(library, models, size, seed, out)
        steps.ground_truth(exp, data, out)
        progress = steps.build(exp, out)
        failed = {label: c["failed"] for label, c in progress.items() if c.get("failed")}
        if failed:
            raise CommandError(f"some stimuli failed to build: {failed}; see the admin for the errors")
        steps.open_experiment(exp, out)
        user, password = steps.admin_login(root)

        base = f"http://{host}:{port}"
        minutes = (time.monotonic() - started) / 60
        self.stdout.write(self.style.SUCCESS(f"\nThe demo study is ready ({minutes:.1f} min)."))
        self.stdout.write(f"  Participant link: {base}{reverse('rating:entry', args=[exp.slug])}")
        self.stdout.write(f"  Admin:            {base}{reverse('admin:index')}  (user {user}, "
                          f"password {password})")
        self.stdout.write(f"  Results:          {base}{reverse('experiments:results', args=[exp.pk])}")
        if no_serve:
            return
        if not settings.DEBUG:
            self.stdout.write("DEBUG is off: serving static files needs collectstatic; running it.")
            call_command("collectstatic", interactive=False, verbosity=0)
        call_command("runserver", f"{host}:{port}", use_reloader=False)

    def say(self, message):
        self.stdout.write(message)
        self.stdout.flush()
