"""The media studies draw on: videos, and the sound libraries the retrieval methods choose from."""

import uuid

from django.db import models
from django.db.models import Q


def blind_name(prefix: str, filename: str) -> str:
    # Stored names never carry the method or the source name: only a random token.
    suffix = filename.rsplit(".", 1)[-1].lower() if "." in filename else "bin"
    return f"{prefix}/{uuid.uuid4().hex}.{suffix}"


def video_upload_to(instance, filename):
    return blind_name("videos", filename)


def sound_upload_to(instance, filename):
    return blind_name("sounds", filename)


class Video(models.Model):
    """A video clip that participants will see; its soundtrack is the `original` method."""

    name = models.CharField(max_length=200)
    file = models.FileField(upload_to=video_upload_to, max_length=300)
    sha256 = models.CharField(max_length=64, blank=True, db_index=True)
    duration = models.FloatField(null=True, blank=True, help_text="Seconds.")
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    fps = models.FloatField(null=True, blank=True)
    has_audio = models.BooleanField(default=False)
    # Seconds from the start of the clip to the visual effect a sound should align with, when
    # known (from a dataset's se_onset); else it is detected when muxing.
    effect_onset = models.FloatField(null=True, blank=True)
    source = models.CharField(max_length=300, blank=True, help_text="Where it was imported from.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            # Imports are idempotent by content, even when two run at once.
            models.UniqueConstraint(fields=["sha256"], condition=~Q(sha256=""), name="unique_video_content")
        ]

    def __str__(self):
        # The admin's video picker shows this: enough to choose by (and to spot a silent clip).
        facts = [f"{self.duration:.1f} s" if self.duration else ""]
        facts.append(f"{self.width}x{self.height}" if self.width else "")
        facts.append("audio" if self.has_audio else "no audio")
        return f"{self.name} ({', '.join(f for f in facts if f)})"


class SoundLibrary(models.Model):
    """The dictionary of sounds the retrieval methods choose from."""

    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "sound libraries"

    def __str__(self):
        return self.name


class Sound(models.Model):
    library = models.ForeignKey(SoundLibrary, on_delete=models.CASCADE, related_name="sounds")
    name = models.CharField(max_length=200)
    file = models.FileField(upload_to=sound_upload_to, max_length=300)
    sha256 = models.CharField(max_length=64, blank=True, db_index=True)
    duration = models.FloatField(null=True, blank=True, help_text="Seconds.")
    sample_rate = models.PositiveIntegerField(null=True, blank=True)
    sound_class = models.CharField(max_length=100, blank=True)
    # Seconds from the start of the file to the sound's onset, when known; else detected.
    onset = models.FloatField(null=True, blank=True)
    source = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["library", "name"]
        constraints = [
            models.UniqueConstraint(fields=["library", "name"], name="unique_sound_name_per_library"),
            models.UniqueConstraint(
                fields=["library", "sha256"], condition=~Q(sha256=""), name="unique_sound_content_per_library"
            ),
        ]

    def __str__(self):
        return self.name
