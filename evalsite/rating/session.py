"""The participant's session: the open study, and the signed cookie that names its participant."""

from django.conf import settings
from django.http import Http404

from evalsite.experiments.models import Experiment

from .models import Participant
from .refused import Refused, refuse_unless_open

COOKIE_SALT = "evalsite.rating.participant"
COOKIE_MAX_AGE = 60 * 60 * 24 * 30


def open_experiment(slug: str) -> Experiment:
    experiment = Experiment.objects.filter(slug=slug).first()
    if experiment is None:
        raise Http404("No study with this link.")
    refuse_unless_open(experiment)
    return experiment



def cookie_name(slug: str) -> str:
    return f"participant-{slug}"


def cookie_token(request, slug: str) -> str | None:
    # A bad signature reads as no token at all: a forged cookie identifies nobody.
    return request.get_signed_cookie(cookie_name(slug), default=None, salt=COOKIE_SALT)


def session_participant(request, experiment) -> Participant | None:
    token = cookie_token(request, experiment.slug)
    return Participant.objects.filter(experiment=experiment, token=token).first() if token else None


def require_participant(request, slug: str) -> Participant:
    """The participant of this browser in an open study, with its experiment, in one query."""
    token = cookie_token(request, slug)
    participant = (
        Participant.objects.select_related("experiment").filter(token=token, experiment__slug=slug).first()
        if token
        else None
    )
    experiment = participant.experiment if participant else open_experiment(slug)
    refuse_unless_open(experiment)
    if participant is None:
        raise Refused(
            "We could not find your session for this study (missing or unknown participant token). "
            "Please open the study link you were given again.",
            403,
        )
    return participant


def remember(response, participant: Participant):
    return set_participant_cookie(response, participant.experiment.slug, participant.token)


def set_participant_cookie(response, slug: str, token: str):
    """Keeps the participant's secret token in a signed, HTTP-only cookie of this browser."""
    response.set_signed_cookie(
        cookie_name(slug),
        token,
        salt=COOKIE_SALT,
        max_age=COOKIE_MAX_AGE,
        httponly=True,
        samesite=settings.PARTICIPANT_COOKIE_SAMESITE,
        secure=settings.SESSION_COOKIE_SECURE,
    )
    return response


def participant_by_token(experiment, token: str) -> Participant:
    participant = Participant.objects.filter(experiment=experiment, token=token).first() if token else None
    if participant is None:
        raise Refused("This resume link is not valid for this study (unknown participant token).", 403)
    return participant
