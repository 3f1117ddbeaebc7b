"""manage.py segment: cut long recordings into 6.4 s weakly labelled samples (a dataset)."""

from django.core.management.base import BaseCommand, CommandError

from retrieval.data.errors import DatasetError, MediaError
from retrieval.data.segment import segment


class Command(BaseCommand):
    help = "Cuts recordings + sound-effect annotations (CSV: recording,start,end,class) into a dataset."

    def add_arguments(self, parser):
        parser.add_argument("--recordings", required=True, help="folder of recordings (any container)")
        parser.add_argument("--annotations", required=True, help="CSV with columns recording,start,end,class")
        parser.add_argument("--out", required=True, help="dataset folder to create")
        parser.add_argument("--split-by", choices=("source", "recording"), default="source",
                            help="source: a recording's sub-folder (a day); recording: each file")
        parser.add_argument("--clip-seconds", type=float, default=6.4, help="sample length (default 6.4)")
        parser.add_argument("--hop", type=float, default=None, help="seconds between samples (default: none)")
        parser.add_argument("--sample-rate", type=int, default=48_000, help="audio rate of the dataset")
        parser.add_argument("--valid-sources", type=int, default=1, help="sources for validation (default 1)")
        parser.add_argument("--test-sources", type=int, default=1, help="last sources, for testing")
        parser.add_argument("--min-overlap", type=float, default=0.1,
                            help="seconds an effect must overlap a sample to label it (default 0.1)")
        parser.add_argument("--skip-bad", action="store_true", help="skip (and count) bad recordings")
        parser.add_argument("--overwrite", action="store_true", help="replace OUT when it exists")
        parser.add_argument("--jobs", type=int, default=1,
                            help="recordings cut at a time, a process (about one core) each (default 1)")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, **o):
        try:
            report = segment(
                o["recordings"], o["annotations"], o["out"], clip_seconds=o["clip_seconds"], hop=o["hop"],
                sample_rate=o["sample_rate"], split_by=o["split_by"], valid_sources=o["valid_sources"],
                test_sources=o["test_sources"], min_overlap=o["min_overlap"], skip_bad=o["skip_bad"],
                overwrite=o["overwrite"], progress=not o["no_progress"], jobs=o["jobs"],
            )
        except (DatasetError, MediaError) as e:
            raise CommandError(str(e)) from None
        self.stdout.write(f"{report.samples} samples ({report.with_se} with a sound effect) from "
                          f"{report.recordings} recording(s) in {report.out}")
        for split, sources in report.splits.items():
            self.stdout.write(f"  {split}: {', '.join(sources) or '-'}")
        if report.skipped:
            self.stdout.write(self.style.WARNING(f"skipped {len(report.skipped)} recording(s):"))
            for reason in report.skipped:
                self.stdout.write(f"  {reason}")
