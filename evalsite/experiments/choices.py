"""The choice sets of an experiment: its status, how sounds are muxed, its design, its stopping rule.

Reached as `Experiment.Status`, `Experiment.MuxMode`, `Experiment.Design` and
`Experiment.StoppingRule`; defined here to keep the model's module to its fields and rules.
"""

from django.db import models


class Status(models.TextChoices):
    DRAFT = "draft", "Draft"
    OPEN = "open", "Open"
    CLOSED = "closed", "Closed"


class MuxMode(models.TextChoices):
    """How a retrieved sound is put into the video."""

    REPLACE = "replace", "Replace the soundtrack"
    OVERLAY = "overlay", "Overlay on the original (ducked)"


class Design(models.TextChoices):
    FULL = "full", "Every participant rates every stimulus (random order)"
    BALANCED = "balanced", "Each video once per participant, methods Latin-square balanced"


class StoppingRule(models.TextChoices):
    """When recruitment ends (evalsite/experiments/stopping.py)."""

    NONE = "none", "Recruit every participant wanted"
    SEQUENTIAL = "sequential", "Group-sequential tests (O'Brien-Fleming alpha spending)"
    PRECISION = "precision", "Every method's MOS CI half-width below a target"
