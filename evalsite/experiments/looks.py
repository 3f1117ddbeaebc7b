"""The looks of an adaptive stopping rule: each interim (or the final) analysis, as recorded."""

from django.db import models


class Look(models.Model):
    """One interim (or the final) analysis of an experiment with an adaptive stopping rule."""

    experiment = models.ForeignKey("experiments.Experiment", on_delete=models.CASCADE, related_name="looks")
    number = models.PositiveIntegerField()
    kept = models.PositiveIntegerField(help_text="Kept participants at this look.")
    information = models.FloatField(help_text="Information fraction: kept / participants wanted.")
    # Per planned comparison: z, p, the nominal boundary, decided; or per method: CI half-width.
    details = models.JSONField(default=dict)
    stop = models.BooleanField(default=False)
    reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["experiment", "number"]
        constraints = [models.UniqueConstraint(fields=["experiment", "number"], name="unique_look_number")]

    def __str__(self):
        return f"{self.experiment} look {self.number}"
