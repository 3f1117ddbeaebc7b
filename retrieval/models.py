"""The trained-model registry's row: a checkpoint usable as an experiment method, and its variant."""

from django.db import models


class Variant(models.TextChoices):
    TRIPLET1 = "triplet1", "Triplet 1"
    TRIPLET2 = "triplet2", "Triplet 2"
    PROPOSED = "proposed", "Proposed"


class TrainedModel(models.Model):
    """A trained checkpoint, usable as an experiment method. Registered by `manage.py train`,
    `manage.py register_model` or the admin, all through retrieval.registry, which fills every
    field but the name from the checkpoint file."""

    name = models.CharField(max_length=100, unique=True)
    variant = models.CharField(max_length=16, choices=Variant.choices)
    checkpoint = models.CharField(max_length=500, help_text="Path of the checkpoint file.")
    preset = models.CharField(max_length=32, blank=True, help_text="Input preset of the checkpoint.")
    checkpoint_sha256 = models.CharField(max_length=64, blank=True)
    config = models.JSONField(default=dict, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return f"{self.name} ({self.get_variant_display()})"
