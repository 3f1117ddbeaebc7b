"""manage.py register_model CKPT [--name NAME]"""

from django.core.management.base import BaseCommand, CommandError

from retrieval.checkpoint import CheckpointError
from retrieval.registry import register


class Command(BaseCommand):
    help = (
        "Registers a trained checkpoint as a TrainedModel (usable as an experiment method): loads it "
        "and fills variant, preset, config, validation metrics and sha256 from the file."
    )

    def add_arguments(self, parser):
        parser.add_argument("checkpoint", help="path of the checkpoint file (.pt)")
        parser.add_argument(
            "--name", help="TrainedModel name (default: the file stem); an existing one is updated"
        )

    def handle(self, *args, **opts):
        try:
            row, created = register(opts["checkpoint"], opts["name"])
        except CheckpointError as exc:
            raise CommandError(str(exc)) from None
        valid = row.metrics.get("valid") or {}
        shown = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in valid.items())
        self.stdout.write(
            f"{'registered' if created else 'updated'} TrainedModel {row.name!r}: {row.variant}, preset "
            f"{row.preset}, sha256 {row.checkpoint_sha256[:12]}…, validation: {shown or 'none recorded'}"
        )
