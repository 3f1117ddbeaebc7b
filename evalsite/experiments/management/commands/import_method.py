"""manage.py import_method: an outside system's outputs as a method of an experiment."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from evalsite.experiments.imported import ImportedOutput
from evalsite.experiments.method_import import ImportRefused, import_method
from evalsite.experiments.models import Experiment

FORMS = ImportedOutput.Form


class Command(BaseCommand):
    help = (
        "Add a method of kind 'imported' to a draft experiment, from a `video,sound` CSV of library "
        "sounds (another retrieval system's top-1), a folder of soundtracks (a generator's output, "
        "one audio file per video) or a folder of finished clips (their sound is kept under the "
        "experiment's own picture). Files are named after the videos. Every problem is reported "
        "and nothing is stored unless every video has a usable output."
    )

    def add_arguments(self, parser):
        parser.add_argument("experiment", help="The experiment's slug or id.")
        parser.add_argument("--label", required=True, help="The method's label (shown to researchers).")
        forms = parser.add_mutually_exclusive_group(required=True)
        forms.add_argument("--choices", type=Path, help="CSV with columns video,sound.")
        forms.add_argument("--soundtracks", type=Path, help="Folder of one audio file per video.")
        forms.add_argument("--clips", type=Path, help="Folder of one finished video per video.")

    def handle(self, *args, experiment, label, **options):
        study = find_experiment(experiment)
        form, source = next((f, options[f]) for f in FORMS.values if options.get(f))
        try:
            method = import_method(study, label, form, source)
        except ImportRefused as exc:
            for problem in exc.problems:
                self.stderr.write(self.style.ERROR(f"ERROR {problem}"))
            count = len(exc.problems)
            raise CommandError(f"{count} problem{'s' if count != 1 else ''}; nothing was imported") from None
        outputs = method.outputs.count()
        self.stdout.write(self.style.SUCCESS(
            f"imported method {method.label!r} ({form}): {outputs} outputs; build the experiment to mux them"
        ))  # fmt: skip


def find_experiment(key: str) -> Experiment:
    found = Experiment.objects.filter(slug=key).first()
    if found is None and key.isdigit():
        found = Experiment.objects.filter(pk=int(key)).first()
    if found is None:
        raise CommandError(f"no experiment with slug or id {key!r}")
    return found
