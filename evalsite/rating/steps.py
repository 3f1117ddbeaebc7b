"""The participant's steps after enrolment: the audio and headphone checks, the instructions, the
current clip, finishing; and the one gate that keeps each page and action to its step (`require_step`)."""

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from evalsite.experiments.models import Stimulus

from . import audiocheck, headphonecheck
from .models import Assignment, Participant, new_completion_code
from .refused import Refused
from .signals import participant_finished

WRONG_STEP = "This step is not open yet, or already done: please continue the study from its link."


class WrongStep(Refused):
    """A page or action of a step the participant is not on; `step` is the one they are on.

    The views show a page request (GET) the participant's own step instead, and refuse an action
    (POST) with 409."""

    def __init__(self, step: str):
        super().__init__(WRONG_STEP, 409)
        self.step = step


def unrated(participant: Participant):
    return participant.assignments.filter(rating__isnull=True).order_by("position")


def next_step(participant: Participant) -> str:
    """The URL name of the page the participant should be on."""
    if participant.audio_check_passed is None:
        return "rating:audio_check"
    if participant.headphone_check_passed is None and participant.experiment.headphone_check:
        return "rating:headphone_check"
    if participant.training_done_at is None:
        return "rating:training"
    if unrated(participant).exists():
        return "rating:rate"
    return "rating:done"


def require_step(participant: Participant, step: str) -> None:
    """Raises `WrongStep` unless `step` (a URL name) is the participant's step now."""
    current = next_step(participant)
    if current != step:
        raise WrongStep(current)


def training_stimuli(experiment):
    ready = Stimulus.objects.ready().filter(experiment=experiment, role=Stimulus.Role.TRAINING)
    return ready.order_by("pk")[: experiment.training_clips]


# What each kind of training clip (the kind closes its label, see workers.build.control) shows the
# participant about the scale, as the training of ITU-T P.808 presents the ends of the scale (a
# random sound is neither end: its caption says so, and the page does not call them the ends).
TRAINING_CAPTIONS = {
    "original": ("An example of a good match",
                 "The video's own sound. A match like this deserves 4 (Good) or 5 (Excellent)."),
    "gold": ("An example of a poor match",
             "Noise that has nothing to do with the video. A match like this deserves 1 (Bad)."),
    "random": ("An example of a sound picked at random",
               "It may fit a little or not at all: rate what you hear and see."),
}


def training_examples(experiment) -> list[tuple[Stimulus, str, str]]:
    """(stimulus, title, explanation) for each training clip shown with the instructions."""
    examples = []
    for stimulus in training_stimuli(experiment):
        default = ("An example clip", "Watch it to the end.")
        title, text = TRAINING_CAPTIONS.get(stimulus.control_kind, default)
        examples.append((stimulus, title, text))
    return examples


def finish_training(participant: Participant) -> None:
    require_step(participant, "rating:training")
    Participant.objects.filter(pk=participant.pk, training_done_at__isnull=True).update(
        training_done_at=timezone.now()
    )


def mturk_submission(participant: Participant) -> dict | None:
    """Where and what the finish page posts for an MTurk ExternalQuestion HIT, or None.

    MTurk passes `turkSubmitTo` (its own origin) and `assignmentId`; only origins listed in
    MTURK_SUBMIT_TO are used, so an entry link cannot send the form elsewhere.
    """
    submit_to = participant.params.get("turkSubmitTo", "").rstrip("/")
    if participant.platform != "mturk" or not participant.session_id:
        return None
    if submit_to not in [origin.rstrip("/") for origin in settings.MTURK_SUBMIT_TO]:
        return None
    return {"action": f"{submit_to}/mturk/externalSubmit", "assignment_id": participant.session_id}


def finish(participant: Participant) -> None:
    """Finishes the study of a participant who rated every clip: the first time, with a code."""
    require_step(participant, "rating:done")
    first = Participant.objects.filter(pk=participant.pk, finished_at__isnull=True).update(
        finished_at=timezone.now(), completion_code=new_completion_code()
    )
    if first:  # an adaptive stopping rule may take a look now
        participant_finished.send(sender=Participant, experiment_id=participant.experiment_id)


def audio_check_digits(participant: Participant) -> str:
    if not participant.audio_check_digits:
        participant.audio_check_digits = audiocheck.new_digits()
        participant.save(update_fields=["audio_check_digits"])
    return participant.audio_check_digits


def answer_audio_check(participant: Participant, raw: str) -> bool | None:
    """Records one attempt: True passed, False failed for good, None wrong but may try again."""
    try:
        answer = audiocheck.normalize_answer(raw)
    except audiocheck.BadAnswer as exc:
        raise Refused(str(exc), 400) from None
    with transaction.atomic():
        p = Participant.objects.select_for_update().get(pk=participant.pk)
        if p.audio_check_passed is not None:
            raise Refused("You have already done the audio check.", 409)
        if not p.audio_check_digits:
            raise Refused("Please listen to the audio check clip first.", 409)
        p.audio_check_attempts += 1
        p.audio_check_answer = answer
        if answer == p.audio_check_digits:
            p.audio_check_passed = True
        elif p.audio_check_attempts >= audiocheck.MAX_ATTEMPTS:
            p.audio_check_passed = False
        else:
            p.audio_check_digits = audiocheck.new_digits()  # a fresh clip for the next try
        p.save(update_fields=["audio_check_attempts", "audio_check_answer", "audio_check_passed",
                              "audio_check_digits"])
    return p.audio_check_passed


def headphone_check_key(participant: Participant) -> str:
    if not participant.headphone_check_key:
        participant.headphone_check_key = headphonecheck.new_key()
        participant.save(update_fields=["headphone_check_key"])
    return participant.headphone_check_key


def answer_headphone_check(participant: Participant, answers: list[int]) -> bool | None:
    """Records one attempt of all trials, as `answer_audio_check` does: True passed (PASS_MARK or
    more right), False failed for good after MAX_ATTEMPTS, None wrong but may try again."""
    with transaction.atomic():
        p = Participant.objects.select_for_update().get(pk=participant.pk)
        if p.headphone_check_passed is not None:
            raise Refused("You have already done the headphone check.", 409)
        if not p.headphone_check_key:
            raise Refused("Please listen to the headphone check first.", 409)
        p.headphone_check_attempts += 1
        p.headphone_check_answers = "".join(map(str, answers))
        p.headphone_check_correct = headphonecheck.correct_count(p.headphone_check_key, answers)
        if p.headphone_check_correct >= headphonecheck.PASS_MARK:
            p.headphone_check_passed = True
        elif p.headphone_check_attempts >= headphonecheck.MAX_ATTEMPTS:
            p.headphone_check_passed = False
        else:
            p.headphone_check_key = headphonecheck.new_key()  # fresh sounds for the next try
        p.save(update_fields=["headphone_check_attempts", "headphone_check_answers",
                              "headphone_check_correct", "headphone_check_passed", "headphone_check_key"])
    return p.headphone_check_passed


def current_assignment(participant: Participant) -> Assignment | None:
    assignment = unrated(participant).select_related("stimulus").first()
    if assignment is not None and assignment.shown_at is None:
        Assignment.objects.filter(pk=assignment.pk, shown_at__isnull=True).update(shown_at=timezone.now())
    return assignment


def progress(participant: Participant) -> tuple[int, int]:
    total = participant.assignments.count()
    return total - unrated(participant).count(), total

