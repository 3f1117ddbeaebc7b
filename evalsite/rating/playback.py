"""The server's listening clock of each clip: when its bytes went out, when playback began, when
the participant's player says it ended, and how much of the clip that leaves unheard."""

import math

from django.conf import settings
from django.db.models import F
from django.http import Http404
from django.utils import timezone

from evalsite.experiments.models import Stimulus

from .models import Assignment, Participant
from .refused import Refused
from .session import require_participant

NOT_PLAYED = "Please play the clip to the end before you rate it."


def clip_for_participant(request, token) -> tuple[Stimulus, int | None]:
    """The stimulus behind a blind clip URL, if this session's participant may see it, and the
    participant's assignment of it (None for a training clip, which any participant may see)."""
    stimulus = Stimulus.objects.ready().select_related("experiment").filter(token=token).first()
    if stimulus is None:
        raise Http404("No such clip.")
    participant = require_participant(request, stimulus.experiment.slug)
    if stimulus.role == Stimulus.Role.TRAINING:
        return stimulus, None
    assignment = Assignment.objects.filter(participant=participant, stimulus=stimulus).values_list(
        "pk", flat=True).first()
    if assignment is None:
        raise Refused("This clip is not in your list of clips.", 403)
    return stimulus, assignment


def media_served(assignment: int) -> None:
    """The clip's bytes went out to its participant: the first time starts the server's clock."""
    first = Assignment.objects.filter(pk=assignment, media_served_at__isnull=True)
    first.update(media_served_at=timezone.now())


def _assigned(participant: Participant, clip):
    return Assignment.objects.filter(participant=participant, stimulus__token=clip)


def record_started(participant: Participant, clip) -> None:
    """Playback began in the participant's player: the server's clock of the minimum listening time.

    Only the first start counts (a replay does not restart it). It may reach the server before
    the clip's media request was served (a loaded server, a slow network): it is taken all the
    same, and the clock counts from the later of the two (`playback_began`).
    """
    assigned = _assigned(participant, clip).filter(rating__isnull=True)
    if assigned.filter(playback_started_at__isnull=True).update(playback_started_at=timezone.now()):
        return
    if not assigned.exists():
        raise Refused("This clip is not in your list of clips to rate.", 403)


def playback_began(media_served_at, playback_started_at):
    """The earliest moment playback can have begun by the server's clock: the later of the clip's
    first serving and the page's `/started/`, which reach the server in either order. None
    while either is missing."""
    if media_served_at is None or playback_started_at is None:
        return None
    return max(media_served_at, playback_started_at)


def record_played(participant: Participant, clip) -> None:
    """The clip reached its end in the participant's player (posted by the page's script).

    A claim that comes sooner after playback began than the clip lasts (`played_shortfall`) is
    refused, or with RATING_TOO_FAST=flag taken and its rating flagged (`submission.rating_refusal`).
    """
    assigned = _assigned(participant, clip).filter(rating__isnull=True)
    clock = assigned.values_list("media_served_at", "playback_started_at", "stimulus__duration").first()
    if clock is None:
        raise Refused("This clip is not in your list of clips to rate.", 403)
    served, started, duration = clock
    now = timezone.now()
    shortfall = played_shortfall(served, started, duration, now)
    if shortfall is not None and too_fast_policy() == "refuse":
        # A start stamped late on a loaded server makes a real play look short: Retry-After says
        # when the clip can have played, and the page sends its claim again then, by itself.
        began = playback_began(served, started)
        wait = None if began is None else max(1, math.ceil(_remaining(began, duration, now)))
        raise Refused(shortfall, 409, retry_after=wait)
    assigned.update(played_to_end_at=now, play_count=F("play_count") + 1)


def played_shortfall(media_served_at, playback_started_at, duration, now) -> str | None:
    """Why a claim, at `now`, that the clip played to its end cannot be true, or None."""
    began = playback_began(media_served_at, playback_started_at)
    if began is None:
        return NOT_PLAYED
    elapsed = elapsed_if_short(began, duration, now)
    if elapsed is not None:
        return (f"Your player said the clip ended {elapsed:.1f} s after it began playing, but it lasts "
                f"{duration:.1f} s. Please press Replay and play it to the end.")
    return None


def elapsed_if_short(began, duration: float | None, now) -> float | None:
    """Seconds from `began` to `now` when they are fewer than the clip needs (its duration less
    RATING_PLAY_TOLERANCE_S), None otherwise."""
    return (now - began).total_seconds() if _remaining(began, duration, now) > 0 else None


def _remaining(began, duration: float | None, now) -> float:
    """Seconds still to go from `now` until the clip can have played since `began`."""
    return (duration or 0.0) - settings.RATING_PLAY_TOLERANCE_S - (now - began).total_seconds()


def too_fast_policy() -> str:
    return settings.RATING_TOO_FAST
