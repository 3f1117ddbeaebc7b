"""`manage.py train`: one variant trained on a dataset and registered as a TrainedModel."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from retrieval.checkpoint import CheckpointError
from retrieval.nets import VideoWeightsError
from retrieval.registry import register
from retrieval.train import TrainingError, config_from_args, get_args_parser, train


class Command(BaseCommand):
    help = "Train a retrieval variant (triplet1, triplet2, proposed) and register it as a TrainedModel."

    def add_arguments(self, parser):
        for action in get_args_parser()._actions:  # the flags shared with plain scripts
            parser._add_action(action)
        parser.add_argument("--name", help="TrainedModel name (default: the checkpoint's file stem)")
        parser.add_argument("--no-register", action="store_true", help="do not create a TrainedModel row")

    def handle(self, *args, **opts):
        from argparse import Namespace

        ns = Namespace(**opts)
        try:
            config = config_from_args(ns)
            summary = train(config, ns.data, ns.out, device=ns.device, resume=not ns.no_resume,
                            progress=not ns.no_progress, log=self.stdout.write, workers=ns.workers,
                            compact=ns.compact_cache)
        except (TrainingError, CheckpointError, VideoWeightsError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        best = summary["best"] or {}
        self.stdout.write(f"best epoch {best.get('epoch')}: validation {json.dumps(best)}")
        if not ns.no_register:
            self._register(ns.name or Path(ns.out).stem, summary)

    def _register(self, name: str, summary: dict):
        row, created = register(summary["out"], name)
        verb = "registered" if created else "updated"
        self.stdout.write(f"{verb} TrainedModel {row.name!r} ({row.variant})")
