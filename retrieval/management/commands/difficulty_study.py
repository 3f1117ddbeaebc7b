"""manage.py difficulty_study: the pre-registered analysis over one benchmark report per level."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from retrieval.difficulty import StudyError, format_study, plot, read_reports, study


class Command(BaseCommand):
    help = ("Reads one `benchmark` report per difficulty level (in level order) and prints Proposed - "
            "Triplet 2 per level with its 95% CI, the slope across levels and the pre-registered "
            "reading; writes difficulty.json and difficulty.png to --out (docs/retrieval.md).")

    def add_arguments(self, parser):
        parser.add_argument("reports", nargs="+", type=Path, help="benchmark --out folders, one per level")
        parser.add_argument("--levels", nargs="+", type=float, help="level of each (default 0, 1, 2, ...)")
        parser.add_argument("--out", required=True, type=Path, help="folder for difficulty.json/.png")

    def handle(self, *args, **o):
        levels = o["levels"] or list(range(len(o["reports"])))
        try:
            result = study(read_reports(o["reports"]), levels)
        except StudyError as exc:
            raise CommandError(str(exc)) from exc
        result["reports"] = [str(p.resolve()) for p in o["reports"]]
        o["out"].mkdir(parents=True, exist_ok=True)
        (o["out"] / "difficulty.json").write_text(json.dumps(result, indent=2, default=float))
        plot(result).savefig(o["out"] / "difficulty.png", dpi=120)
        self.stdout.write(format_study(result))
        self.stdout.write(f"wrote {o['out'] / 'difficulty.json'}, {o['out'] / 'difficulty.png'}")
