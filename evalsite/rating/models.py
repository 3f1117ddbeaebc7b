"""Participant side: who takes part, which clips they were assigned, and what they rated."""

import secrets

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q


def new_participant_token() -> str:
    return secrets.token_urlsafe(24)


CODE_ALPHABET = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no I or O, which read as 1 and 0


def new_completion_code() -> str:
    """A participant's own completion code, such as 7F3K-9Q2M (40 random bits)."""
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))
    return f"{code[:4]}-{code[4:]}"


# Worker, study and session ids are stored whole, in fields of this many characters; a longer one
# is refused at entry, never cut, so that two ids never merge into one person.
CROWD_ID_LENGTH = 200


class ParticipantQuerySet(models.QuerySet):
    def finished(self):
        return self.filter(finished_at__isnull=False)


class Participant(models.Model):
    experiment = models.ForeignKey(
        "experiments.Experiment", on_delete=models.CASCADE, related_name="participants"
    )
    # The secret that identifies the participant's session; never shown to others.
    token = models.CharField(max_length=64, unique=True, default=new_participant_token)
    platform = models.CharField(max_length=20, blank=True, help_text="prolific, mturk, lab...")
    external_id = models.CharField(max_length=CROWD_ID_LENGTH, blank=True, help_text="PROLIFIC_PID, workerId")
    study_id = models.CharField(max_length=CROWD_ID_LENGTH, blank=True)
    session_id = models.CharField(max_length=CROWD_ID_LENGTH, blank=True)
    params = models.JSONField(default=dict, blank=True, help_text="All entry-link parameters.")
    user_agent = models.CharField(max_length=400, blank=True)
    consented_at = models.DateTimeField(null=True, blank=True)
    # Order of arrival in the experiment: selects the participant's Latin-square row and seeds
    # the order of their clips, so an assignment list can be reproduced from (seed, sequence).
    sequence = models.PositiveIntegerField(null=True, blank=True)
    audio_check_answer = models.CharField(max_length=50, blank=True, help_text="What was typed last.")
    # The digits spoken in the audio check clip; kept server-side, never sent to the browser.
    audio_check_digits = models.CharField(max_length=20, blank=True)
    audio_check_attempts = models.PositiveSmallIntegerField(default=0)
    audio_check_passed = models.BooleanField(null=True, blank=True)
    # The headphone check (rating/headphonecheck.py), when the experiment asks for it: each trial's
    # order of tones (server-side only), the positions picked in the last attempt, how many were right.
    headphone_check_key = models.CharField(max_length=30, blank=True)
    headphone_check_answers = models.CharField(max_length=30, blank=True)
    headphone_check_correct = models.PositiveSmallIntegerField(null=True, blank=True)
    headphone_check_attempts = models.PositiveSmallIntegerField(default=0)
    headphone_check_passed = models.BooleanField(null=True, blank=True)
    training_done_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Given at the finish, one per participant, beside the study's own code that crowd platforms
    # take: a researcher can check it in the export, so one leaked code does not pay everyone.
    completion_code = models.CharField(max_length=9, blank=True)

    objects = ParticipantQuerySet.as_manager()

    class Meta:
        ordering = ["experiment", "started_at"]
        constraints = [
            models.UniqueConstraint(fields=["experiment", "sequence"], name="unique_participant_sequence"),
            # A crowd worker who comes back resumes; the database refuses a second participant.
            models.UniqueConstraint(
                fields=["experiment", "platform", "external_id"],
                condition=~Q(external_id=""),
                name="unique_crowd_participant",
            ),
        ]

    def __str__(self):
        return self.external_id or f"participant {self.pk}"


class Assignment(models.Model):
    """One stimulus in one participant's list, at a fixed position."""

    # No index of its own: unique_assignment and unique_position begin with it (one index less to
    # write for each of the many rows an enrolment inserts).
    participant = models.ForeignKey(
        Participant, on_delete=models.CASCADE, related_name="assignments", db_index=False
    )
    stimulus = models.ForeignKey("experiments.Stimulus", on_delete=models.PROTECT, related_name="assignments")
    position = models.PositiveIntegerField()
    # Server-side clock of the clip: page first served, media first served, playback first began.
    shown_at = models.DateTimeField(null=True, blank=True)
    media_served_at = models.DateTimeField(null=True, blank=True)
    playback_started_at = models.DateTimeField(null=True, blank=True)
    played_to_end_at = models.DateTimeField(null=True, blank=True)
    play_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["participant", "position"]
        constraints = [
            models.UniqueConstraint(fields=["participant", "stimulus"], name="unique_assignment"),
            models.UniqueConstraint(fields=["participant", "position"], name="unique_position"),
        ]

    def __str__(self):
        return f"{self.participant} #{self.position}"


class Rating(models.Model):
    """A submitted score. One per assignment: a second submission is refused by the database."""

    assignment = models.OneToOneField(Assignment, on_delete=models.PROTECT, related_name="rating")
    score = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(5)])
    # Optional attributes, asked when the experiment says so (Experiment.ask_quality / ask_sync).
    quality = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    sync = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    played_to_end = models.BooleanField(default=False)
    time_on_page_ms = models.PositiveIntegerField(null=True, blank=True)
    # Sent sooner after playback began than the clip lasts (kept only when RATING_TOO_FAST=flag).
    too_fast = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["assignment"]
        constraints = [
            models.CheckConstraint(condition=Q(score__gte=1) & Q(score__lte=5), name="score_between_1_and_5"),
            models.CheckConstraint(
                condition=Q(quality__isnull=True) | (Q(quality__gte=1) & Q(quality__lte=5)),
                name="quality_between_1_and_5",
            ),
            models.CheckConstraint(
                condition=Q(sync__isnull=True) | (Q(sync__gte=1) & Q(sync__lte=5)),
                name="sync_between_1_and_5",
            ),
        ]

    def __str__(self):
        return f"{self.assignment}: {self.score}"
