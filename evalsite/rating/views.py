"""Participant pages. Thin: forms validate, the rating modules decide, a Refused becomes a clear 4xx
page, and a page of another step sends the participant to their own (`steps.require_step`)."""

import functools
import sys

from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import Resolver404, resolve, reverse
from django.views import csrf, defaults
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST, require_safe

from evalsite.experiments.attributes import asked

from . import audiocheck, enrolment, headphonecheck, icon, playback, session, steps, submission
from .forms import (
    SCALE,
    AttributesForm,
    AudioCheckForm,
    ClipForm,
    ConsentForm,
    HeadphoneCheckForm,
    first_error,
)
from .ranges import ranged_file_response
from .refused import Refused


def framable(response):
    """A participant page may be framed by the crowd platforms (MTurk's ExternalQuestion) listed
    in PARTICIPANT_FRAME_ANCESTORS; every other page keeps X-Frame-Options: DENY."""
    ancestors = " ".join(["'self'", *settings.PARTICIPANT_FRAME_ANCESTORS])
    response["Content-Security-Policy"] = f"frame-ancestors {ancestors}"
    response.xframe_options_exempt = True
    return response


def refusals(view):
    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            response = view(request, *args, **kwargs)
        except Refused as refused:
            response = refused_response(request, refused, kwargs.get("slug"))
        return framable(response)

    return never_cache(wrapper)


def refused_response(request, refused: Refused, slug: str | None):
    """The page of a refusal; a page of a step the participant is not on shows theirs instead."""
    if isinstance(refused, steps.WrongStep) and request.method in ("GET", "HEAD"):
        return redirect(refused.step, slug=slug)
    response = render(request, "rating/refused.html",
                      {"message": refused.message, "slug": slug, "title": refused.title},
                      status=refused.status)
    if refused.retry_after is not None:
        response["Retry-After"] = str(refused.retry_after)
    return response


def is_outage(exc) -> bool:
    """A database or broker that cannot be reached (the error itself, or what caused it)."""
    from django.db import InterfaceError, OperationalError
    from kombu.exceptions import OperationalError as BrokerError
    from redis.exceptions import ConnectionError as RedisConnectionError

    kinds = (OperationalError, InterfaceError, BrokerError, RedisConnectionError, ConnectionError)
    while exc is not None:
        if isinstance(exc, kinds):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def is_participant_page(request) -> bool:
    try:
        return resolve(request.path_info).namespace == "rating"
    except Resolver404:
        return False


def server_error(request):
    """The site's 500 handler: on a participant page, a database or broker outage gets a 503
    page in the participant pages' style, with a retry button and no technical detail."""
    if not (is_outage(sys.exc_info()[1]) and is_participant_page(request)):
        return defaults.server_error(request)
    # Rendered without context processors: they could need the database that is down.
    html = render_to_string("rating/outage.html", {"path": request.get_full_path()})
    response = HttpResponse(html, status=503)
    response["Retry-After"] = "10"
    response["Cache-Control"] = "no-store"
    return framable(response)


def page_not_found(request, exception):
    """handler404: Django's page, which a crowd platform's frame may show on a participant page."""
    response = defaults.page_not_found(request, exception)
    return framable(response) if is_participant_page(request) else response


def csrf_failure(request, reason=""):
    """CSRF_FAILURE_VIEW: on a participant page, a page in the study's style that a crowd
    platform's frame may show (Django's own page is DENY, a blank frame); elsewhere Django's."""
    if not is_participant_page(request):
        return csrf.csrf_failure(request, reason)
    message = ("Your browser did not send back this study's security cookie (CSRF verification "
               "failed), so this form could not be accepted. Please reload the page and try again; "
               "if it happens again, open the study link in a new browser tab.")
    context = {"message": message, "title": "Please reload the page",
               "slug": resolve(request.path_info).kwargs.get("slug")}
    return framable(render(request, "rating/refused.html", context, status=403))


def to_step(participant):
    """On to the participant's step, after an action that may have moved them on."""
    participant.refresh_from_db()
    return redirect(steps.next_step(participant), slug=participant.experiment.slug)


def home(request):
    return render(request, "rating/home.html")


@require_safe
def favicon(request):
    response = HttpResponse(icon.favicon_ico(), content_type="image/x-icon")
    response["Cache-Control"] = "public, max-age=86400"
    return response


@require_GET
def ping(request):
    # The trivial reference view of bench/ratings.py, and a health check for load balancers.
    return HttpResponse("ok", content_type="text/plain")


@refusals
@require_http_methods(["GET", "HEAD", "POST"])
def entry(request, slug):
    experiment = session.open_experiment(slug)
    entry = enrolment.entry_params(request.GET)  # checks every parameter, resume included
    if "resume" in request.GET:
        resumed = session.participant_by_token(experiment, request.GET["resume"])
        return session.remember(to_step(resumed), resumed)
    participant = enrolment.returning_participant(experiment, entry)
    if participant is None and not entry["external_id"]:
        participant = session.session_participant(request, experiment)
    if participant is not None:
        return session.remember(to_step(participant), participant)
    enrolment.check_recruiting(experiment)
    preview = enrolment.is_mturk_preview(request.GET)
    form = ConsentForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and preview:
        raise Refused("This is a preview: accept the HIT on Mechanical Turk to start.", 409)
    if request.method == "POST":
        if not form.is_valid():
            context = {"experiment": experiment, "form": form}
            return render(request, "rating/consent.html", context, status=400)
        participant = enrolment.enroll(experiment, entry, request.headers.get("User-Agent", ""), checked=True)
        # Just read or written by enroll: no need to read it again for its step.
        return session.remember(redirect(steps.next_step(participant), slug=slug), participant)
    context = {"experiment": experiment, "form": form, "preview": preview}
    return render(request, "rating/consent.html", context)


@refusals
@require_http_methods(["GET", "POST"])
def audio_check(request, slug):
    participant = session.require_participant(request, slug)
    experiment = participant.experiment
    if request.method == "GET":  # an answer is checked by its own rules, under the row's lock
        steps.require_step(participant, "rating:audio_check")
    form = AudioCheckForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        if not form.is_valid():
            return _audio_page(request, experiment, participant, form, status=400)
        passed = steps.answer_audio_check(participant, form.cleaned_data["answer"])
        if passed is None:  # the page says so from the attempts recorded (see _audio_page)
            return redirect("rating:audio_check", slug=slug)
        return to_step(participant)
    steps.audio_check_digits(participant)
    return _audio_page(request, experiment, participant, form)


def _audio_page(request, experiment, participant, form, status=200):
    context = {
        "experiment": experiment,
        "form": form,
        "error": first_error(form) if form.is_bound and form.errors else "",
        "attempt": participant.audio_check_attempts + 1,
        # Said from the server's record, not a messages cookie, which a cross-site frame drops.
        "wrong": participant.audio_check_attempts > 0,
        "max_attempts": audiocheck.MAX_ATTEMPTS,
    }
    return render(request, "rating/audio_check.html", context, status=status)


@refusals
@require_safe
def audio_check_clip(request, slug):
    participant = session.require_participant(request, slug)
    if participant.audio_check_passed is not None or not participant.audio_check_digits:
        raise Refused("There is no audio check waiting for you.", 404)
    response = HttpResponse(audiocheck.clip_wav(participant.audio_check_digits), content_type="audio/wav")
    response["Cache-Control"] = "no-store"
    return response


@refusals
@require_http_methods(["GET", "POST"])
def headphone_check(request, slug):
    participant = session.require_participant(request, slug)
    if request.method == "GET":
        steps.require_step(participant, "rating:headphone_check")
    form = HeadphoneCheckForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        if not form.is_valid():
            return _headphone_page(request, participant, form, status=400)
        if steps.answer_headphone_check(participant, form.answers()) is None:
            return redirect("rating:headphone_check", slug=slug)
        return to_step(participant)
    steps.headphone_check_key(participant)
    return _headphone_page(request, participant, form)


def _headphone_page(request, participant, form, status=200):
    context = {
        "experiment": participant.experiment,
        "form": form,
        # Each trial's number and the tone picked before a refused form, so no choice is lost.
        "trials": [(n, form.data.get(f"trial_{n}", "")) for n in range(1, headphonecheck.TRIALS + 1)],
        "error": first_error(form) if form.is_bound and form.errors else "",
        "attempt": participant.headphone_check_attempts + 1,
        "wrong": participant.headphone_check_attempts > 0,
        "max_attempts": headphonecheck.MAX_ATTEMPTS,
        "pass_mark": headphonecheck.PASS_MARK,
        "tones": [("1", "First"), ("2", "Second"), ("3", "Third")],
    }
    return render(request, "rating/headphone_check.html", context, status=status)


@refusals
@require_safe
def headphone_check_clip(request, slug, trial):
    participant = session.require_participant(request, slug)
    orders = headphonecheck.trial_orders(participant.headphone_check_key)
    if participant.headphone_check_passed is not None or not 1 <= trial <= len(orders):
        raise Refused("There is no headphone check waiting for you.", 404)
    response = HttpResponse(headphonecheck.clip_wav(orders[trial - 1]), content_type="audio/wav")
    response["Cache-Control"] = "no-store"
    return response


@refusals
@require_http_methods(["GET", "POST"])
def training(request, slug):
    participant = session.require_participant(request, slug)
    experiment = participant.experiment
    if request.method == "POST":
        steps.finish_training(participant)
        return to_step(participant)
    steps.require_step(participant, "rating:training")
    examples = steps.training_examples(experiment)
    context = {"experiment": experiment, "examples": examples, "scale": SCALE}
    return render(request, "rating/training.html", context)


@refusals
@require_http_methods(["GET", "POST"])
def rate(request, slug):
    if request.method == "POST":
        # Optional questions are checked against the experiment by the rating's insert itself.
        form = AttributesForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            submission.submit_rating(request, slug, data["clip"], data["score"], form.attribute_values())
            return redirect("rating:rate", slug=slug)
        participant = session.require_participant(request, slug)
        return _rate_page(request, participant.experiment, participant, error=first_error(form), status=400)
    participant = session.require_participant(request, slug)
    steps.require_step(participant, "rating:rate")
    return _rate_page(request, participant.experiment, participant)


def _rate_page(request, experiment, participant, error="", status=200):
    assignment = steps.current_assignment(participant)
    if assignment is None:
        return to_step(participant)
    done, total = steps.progress(participant)
    context = {
        "experiment": experiment,
        "assignment": assignment,
        "clip_url": reverse("rating:clip", args=[assignment.stimulus.token]),
        "resume_url": reverse("rating:entry", args=[experiment.slug]) + f"?resume={participant.token}",
        "number": done + 1,
        "total": total,
        "done": done,
        "scale": SCALE,
        "questions": asked(experiment),
        "error": error,
    }
    return render(request, "rating/rate.html", context, status=status)


def _clip_event(record):
    @refusals
    @require_POST
    def view(request, slug):
        participant = session.require_participant(request, slug)
        form = ClipForm(request.POST)
        if not form.is_valid():
            raise Refused(first_error(form), 400)
        record(participant, form.cleaned_data["clip"])
        return HttpResponse(status=204)

    return view


started = _clip_event(playback.record_started)
played = _clip_event(playback.record_played)


@refusals
@require_GET
def done(request, slug):
    participant = session.require_participant(request, slug)
    experiment = participant.experiment
    steps.finish(participant)
    participant.refresh_from_db(fields=["completion_code"])  # given by finish, the first time
    context = {"experiment": experiment, "participant": participant,
               "mturk": steps.mturk_submission(participant)}
    return render(request, "rating/done.html", context)


@refusals
@require_safe
def clip(request, token):
    stimulus, assignment = playback.clip_for_participant(request, token)
    response = ranged_file_response(request, stimulus.file, "video/mp4")
    # Only bytes sent count as served: a HEAD, or a range outside the file, downloads nothing.
    if assignment is not None and request.method == "GET" and response.status_code in (200, 206):
        playback.media_served(assignment)
    return response
