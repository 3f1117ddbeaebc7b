"""manage.py benchmark: every variant over several seeds -> Table 1 and 2 with CIs, paired differences."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from retrieval.benchmark import BenchmarkError, Plan, parse_settings, run
from retrieval.checkpoint import CheckpointError
from retrieval.config import VARIANTS
from retrieval.data.errors import DatasetError
from retrieval.inputs import TrainingError
from retrieval.nets import VideoWeightsError
from retrieval.presets import DEFAULT_PRESET, PRESETS
from retrieval.report import format_report, write_outputs

# --generate's size when the KEY=VALUE pairs leave it out: the large synthetic benchmark of
# docs/retrieval.md (504 test samples with an effect); make_dataset's own default (6 days) gives
# about 18, too few to measure anything.
GENERATE_DEFAULTS = {"days": 38, "valid_days": 2, "test_days": 28}


def generate_settings(pairs) -> dict:
    """make_dataset's keyword arguments for `--generate KEY=VALUE ...` (the large size without days)."""
    spec = parse_settings(pairs)
    return spec if "days" in spec else {**GENERATE_DEFAULTS, **spec}


class Command(BaseCommand):
    help = ("Trains every variant over several seeds (features cached once), evaluates them and prints "
            "Table 1 and 2 as mean ± 95% CI over seeds and the paired differences between variants; "
            "writes benchmark.json, runs.csv and acc_rank.png to --out. Resumable.")

    def add_arguments(self, parser):
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--data", type=Path, help="dataset directory (manifest.csv)")
        source.add_argument("--generate", nargs="*", metavar="KEY=VALUE",
                            help="generate the dataset into OUT/dataset with make_dataset's settings "
                                 "as KEY=VALUE (days, valid_days, test_days, minutes_per_day, seed, sfx_dir, "
                                 "speech_dir); without days, the large benchmark's size "
                                 + " ".join(f"{k}={v}" for k, v in GENERATE_DEFAULTS.items())
                                 + " (504 test samples with an effect); the rest as make_dataset")
        parser.add_argument("--out", required=True, type=Path, help="folder for runs and results")
        parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
        parser.add_argument("--seeds", type=int, default=5, help="number of seeds (default 5)")
        parser.add_argument("--first-seed", type=int, default=0)
        parser.add_argument("--preset", default=DEFAULT_PRESET, choices=sorted(PRESETS))
        parser.add_argument("--split", default="test", choices=("test", "valid"),
                            help="split to evaluate: valid to choose settings, test to report")
        parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", dest="overrides",
                            help="training or model settings for every run, e.g. lambda2=0.3 epochs=20")
        parser.add_argument("--trunk-seed", type=int, default=0, help="seed of a random video trunk")
        parser.add_argument("--video-weights", type=Path, help="torchvision r3d_18 state dict")
        parser.add_argument("--library", type=Path,
                            help="also query this separate sound library (folder; class = sub-folder)")
        parser.add_argument("--device", default="auto")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, **o):
        try:
            if o["seeds"] < 1:
                raise BenchmarkError(f"--seeds must be at least 1, got {o['seeds']}")
            progress = not o["no_progress"]
            data = o["data"] or self._generate(o["out"], generate_settings(o["generate"]), progress)
            plan = Plan(data=str(Path(data).resolve()), out=str(o["out"].resolve()),
                        variants=tuple(dict.fromkeys(o["variants"])),
                        seeds=tuple(range(o["first_seed"], o["first_seed"] + o["seeds"])),
                        preset=o["preset"], split=o["split"], trunk_seed=o["trunk_seed"],
                        settings=parse_settings(o["overrides"]),
                        video_weights=str(o["video_weights"]) if o["video_weights"] else None,
                        library=str(o["library"].resolve()) if o["library"] else None)
            report = run(plan, device=o["device"], progress=progress,
                         log=lambda msg: self.stderr.write(msg))
        except (ValueError, DatasetError, TrainingError, CheckpointError, VideoWeightsError) as exc:
            raise CommandError(str(exc)) from exc
        paths = write_outputs(report, plan.out)
        self.stdout.write(format_report(report))
        self.stdout.write("wrote " + ", ".join(str(p) for p in paths.values()))

    def _generate(self, out: Path, spec: dict, progress: bool) -> Path:
        from retrieval.data.synth import make_dataset

        target = out / "dataset"
        if (target / "manifest.csv").is_file():
            self.stderr.write(f"reusing the generated dataset {target}")
            return target
        try:
            return make_dataset(target, progress=progress, log=lambda msg: self.stderr.write(msg), **spec)
        except TypeError as exc:
            raise BenchmarkError(f"--generate: {exc}") from None
