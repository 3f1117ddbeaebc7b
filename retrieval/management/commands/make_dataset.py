"""manage.py make_dataset: generate the synthetic TV-like benchmark."""

import time
from collections import Counter

from django.core.management.base import BaseCommand, CommandError

from retrieval.data.errors import DatasetError, MediaError
from retrieval.data.manifest import read_manifest
from retrieval.data.synth import make_dataset


class Command(BaseCommand):
    help = "Generates a synthetic TV-like sound-effect benchmark (recordings cut by `segment`)."

    def add_arguments(self, parser):
        parser.add_argument("out", help="dataset folder to create")
        parser.add_argument("--days", type=int, default=6, help="recordings ('days'); whole days per split")
        parser.add_argument("--minutes-per-day", type=float, default=4.0, help="recording length per day")
        parser.add_argument("--valid-days", type=int, default=None,
                            help="days for validation (default: 1 in 6)")
        parser.add_argument("--test-days", type=int, default=None,
                            help="last days, for testing (default: 1 in 6)")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--sfx", default=None, help="folder of real sound effects (wav/ogg/flac)")
        parser.add_argument("--sfx-split", choices=("recording", "shared"), default="recording",
                            help="recording: valid/test days use effect recordings never used in "
                                 "training (default); shared: every day draws from all")
        parser.add_argument("--speech", default=None,
                            help="folder of recorded speech for the presenter (default: espeak-ng)")
        hard = parser.add_argument_group("difficulty (docs/datasets.md; the defaults are today's generator)")
        hard.add_argument("--visual-distractors", type=float, default=0.0, metavar="SHARE",
                          help="share of slots with a visual effect but no sound, labelled 'no effect' (0)")
        hard.add_argument("--acoustic-distractors", type=float, default=0.0, metavar="SHARE",
                          help="share of slots with an effect sound but nothing on screen, labelled "
                               "'no effect' (0); the two shares add up to at most 0.5")
        hard.add_argument("--burial-db", type=float, default=0.0, metavar="DB",
                          help="mix the effects this many dB quieter than -6 ... +6 dB against the "
                               "speech and music around them (0; at most 30)")
        parser.add_argument("--overwrite", action="store_true", help="replace OUT when it exists")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, **o):
        started = time.monotonic()
        try:
            out = make_dataset(o["out"], days=o["days"], minutes_per_day=o["minutes_per_day"], seed=o["seed"],
                               sfx_dir=o["sfx"], progress=not o["no_progress"], overwrite=o["overwrite"],
                               valid_days=o["valid_days"], test_days=o["test_days"],
                               sfx_split=o["sfx_split"], speech_dir=o["speech"],
                               visual_distractors=o["visual_distractors"],
                               acoustic_distractors=o["acoustic_distractors"], burial_db=o["burial_db"],
                               log=lambda msg: self.stderr.write(msg))
        except (DatasetError, MediaError) as e:
            raise CommandError(str(e)) from None
        rows = read_manifest(out)
        self.stdout.write(f"{len(rows)} samples in {out} ({time.monotonic() - started:.0f} s)")
        for split in ("train", "valid", "test"):
            part = [r for r in rows if r.split == split]
            days = sorted({r.source for r in part})
            with_se = sum(r.has_se for r in part)
            self.stdout.write(f"  {split}: {len(part)} samples, {with_se} with a sound effect, "
                              f"days {', '.join(days)}")
        classes = Counter(r.se_class for r in rows if r.has_se)
        self.stdout.write("  classes: " + ", ".join(f"{c} {n}" for c, n in sorted(classes.items())))
