"""manage.py import_media: videos and a sound library from folders or from a dataset split."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from evalsite.experiments import importer
from evalsite.experiments.models import SoundLibrary


class Command(BaseCommand):
    help = (
        "Import videos and sounds, checking every file of the folders (decoded to the end; videos: not "
        "truncated, at least VIDEO_MIN_SECONDS long, within VIDEO_MAX_SECONDS and the size limit; "
        "soundtrack or not, a length mismatch, a short video's padding). Every file gets a line; "
        "a bad one is reported and left out, one already imported (same "
        "sha256) is kept. Exits 1 if any file failed."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--library", required=True, help="Sound library to add sounds to (created if new)."
        )
        parser.add_argument("--videos", type=Path, help="Folder of video clips (searched recursively).")
        parser.add_argument("--sounds", type=Path, help="Folder of sound files (searched recursively).")
        parser.add_argument("--dataset", type=Path, help="Dataset directory with manifest.csv.")
        parser.add_argument("--split", default="test", help="Split of the dataset to import (default: test).")

    def handle(self, *args, library, videos, sounds, dataset, split, **options):
        self.verbosity = options["verbosity"]
        if not (videos or sounds or dataset):
            raise CommandError("nothing to import: give --videos, --sounds and/or --dataset")
        lib, created = SoundLibrary.objects.get_or_create(name=library)
        if created:
            self.stdout.write(f"created sound library {lib.name!r}")
        outcomes = []
        try:
            if videos:
                outcomes += importer.import_video_folder(videos)
            if sounds:
                outcomes += importer.import_sound_folder(sounds, lib)
            if dataset:
                outcomes += importer.import_dataset(dataset, split, lib)
        except ValueError as exc:  # a missing folder, or a manifest problem naming file and row
            self._report(outcomes)
            raise CommandError(str(exc)) from None
        self._report(outcomes)
        failed = sum(o.status == "failed" for o in outcomes)
        if failed:
            raise CommandError(f"{failed} file{'s' if failed != 1 else ''} failed; the others were imported")

    def _report(self, outcomes):
        # Every file gets a line (verbosity 0 keeps only the errors and the totals).
        for o in outcomes:
            if o.status == "failed":
                self.stderr.write(self.style.ERROR(f"ERROR {o.kind} {o.message}"))
            elif self.verbosity < 1:
                continue
            elif o.status == "exists":
                self.stdout.write(f"skip  {o.kind} {o.path}: {o.message}")
            elif o.status == "skipped":
                self.stdout.write(f"skip  {o.kind} {o.message}")
            else:
                self.stdout.write(f"ok    {o.kind} {o.path} as {o.obj.name!r}: {o.facts}")
        for kind in ("video", "sound"):
            mine = [o for o in outcomes if o.kind == kind]
            if mine:
                statuses = ("imported", "exists", "failed", "skipped")
                counts = {s: sum(o.status == s for o in mine) for s in statuses}
                self.stdout.write(
                    f"{kind}s: {counts['imported']} imported, {counts['exists']} already present, "
                    f"{counts['failed']} failed, {counts['skipped']} not media"
                )
