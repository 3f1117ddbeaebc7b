"""The outputs of an imported method: what an outside system gave for each video of a study."""

from django.db import models

from .library import blind_name


def output_upload_to(instance, filename):
    return blind_name("imported", filename)


class ImportedOutput(models.Model):
    """One video's output of an imported method, in one of three forms: a `choice` of a library
    sound (muxed as a trained model's choice is), a `soundtrack` spanning the clip, or a finished
    `clip` whose sound is kept under the study's own picture. `sha256` is the imported file's
    (the choices CSV's for a choice), recorded in the reproducibility manifest."""

    class Form(models.TextChoices):
        CHOICES = "choices", "Choices: one library sound per video (CSV)"
        SOUNDTRACKS = "soundtracks", "Soundtracks: one audio file per video"
        CLIPS = "clips", "Clips: one finished video per video (its sound is kept)"

    method = models.ForeignKey("experiments.Method", on_delete=models.CASCADE, related_name="outputs")
    video = models.ForeignKey("experiments.Video", on_delete=models.PROTECT, related_name="imported_outputs")
    form = models.CharField(max_length=12, choices=Form.choices)
    sound = models.ForeignKey(
        "experiments.Sound", on_delete=models.PROTECT, null=True, blank=True, related_name="imported_outputs"
    )
    file = models.FileField(upload_to=output_upload_to, max_length=300, blank=True)
    source = models.CharField(max_length=300, help_text="The file (or CSV row) it was imported from.")
    sha256 = models.CharField(max_length=64)
    duration = models.FloatField(null=True, blank=True, help_text="Seconds (soundtracks and clips).")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["method", "video"]
        constraints = [
            models.UniqueConstraint(fields=["method", "video"], name="one_imported_output_per_video"),
            models.CheckConstraint(
                condition=models.Q(form="choices", sound__isnull=False, file="")
                | (~models.Q(form="choices") & models.Q(sound__isnull=True) & ~models.Q(file="")),
                name="imported_output_has_sound_or_file",
            ),
        ]

    def __str__(self):
        return f"{self.method} / {self.video.name} ({self.form})"
