"""`manage.py evaluate`: the paper's Tables 1 and 2 for checkpoints on a dataset split."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from retrieval.checkpoint import CheckpointError
from retrieval.evaluate import evaluate, format_tables
from retrieval.hubness import HUBNESS_OPTIONS


class Command(BaseCommand):
    help = "Print the paper's Table 1 (retrieval, with Random) and Table 2 (detection) for checkpoints."

    def add_arguments(self, parser):
        parser.add_argument("checkpoints", nargs="*", type=Path)
        parser.add_argument("--data", required=True, type=Path, help="dataset directory (manifest.csv)")
        parser.add_argument("--split", default="test")
        parser.add_argument("--random", action="store_true", help="include the Random baseline row")
        parser.add_argument("--json", action="store_true", help="print the rows as JSON")
        parser.add_argument("--hubness", default="none", choices=HUBNESS_OPTIONS,
                            help="hubness-aware retrieval (docs/retrieval.md, Hubness): centre the "
                                 "dictionary, csls or assign over the split's videos, or none")
        parser.add_argument("--device", default="auto")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, **opts):
        if not opts["checkpoints"] and not opts["random"]:
            raise CommandError("give at least one checkpoint, or --random")
        try:
            rows = evaluate(opts["checkpoints"], opts["data"], opts["split"], random=opts["random"],
                            device=opts["device"], progress=not opts["no_progress"] and not opts["json"],
                            hubness_option=opts["hubness"])
        except (CheckpointError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(json.dumps(rows, indent=2) if opts["json"] else format_tables(rows))
