"""Participant pages. Thin: forms validate, `services` decides, a Refused becomes a clear 4xx page."""

import functools

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST, require_safe

from . import audiocheck, services
from .forms import SCALE, AudioCheckForm, ClipForm, ConsentForm, RatingForm, first_error
from .media import ranged_file_response


def refusals(view):
    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except services.Refused as refused:
            slug = kwargs.get("slug")
            return render(request, "rating/refused.html", {"message": refused.message, "slug": slug},
                          status=refused.status)

    return never_cache(wrapper)


def to_step(participant):
    participant.refresh_from_db()  # a service may just have moved it on
    return redirect(services.next_step(participant), slug=participant.experiment.slug)


def home(request):
    return render(request, "rating/home.html")


@require_GET
def ping(request):
    # The trivial reference view of bench/ratings.py, and a health check for load balancers.
    return HttpResponse("ok", content_type="text/plain")


@refusals
@require_http_methods(["GET", "POST"])
def entry(request, slug):
    experiment = services.open_experiment(slug)
    if "resume" in request.GET:
        participant = services.participant_by_token(experiment, request.GET["resume"])
        return services.remember(to_step(participant), participant)
    entry = services.entry_params(request.GET)
    participant = services.returning_participant(experiment, entry)
    current = services.session_participant(request, experiment)
    if participant is None and current is not None and not entry["external_id"]:
        participant = current
    if participant is not None:
        return services.remember(to_step(participant), participant)
    preview = services.is_mturk_preview(request.GET)
    form = ConsentForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and preview:
        raise services.Refused("This is a preview: accept the HIT on Mechanical Turk to start.", 409)
    if request.method == "POST":
        if not form.is_valid():
            context = {"experiment": experiment, "form": form}
            return render(request, "rating/consent.html", context, status=400)
        participant = services.enroll(experiment, entry, request.headers.get("User-Agent", ""))
        return services.remember(to_step(participant), participant)
    context = {"experiment": experiment, "form": form, "preview": preview}
    return render(request, "rating/consent.html", context)


@refusals
@require_http_methods(["GET", "POST"])
def audio_check(request, slug):
    participant = services.require_participant(request, slug)
    experiment = participant.experiment
    if request.method == "GET" and services.next_step(participant) != "rating:audio_check":
        return to_step(participant)
    form = AudioCheckForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        if not form.is_valid():
            return _audio_page(request, experiment, participant, form, status=400)
        passed = services.answer_audio_check(participant, form.cleaned_data["answer"])
        if passed is None:
            messages.warning(request, "Those were not the digits in the clip. Please listen to the new clip.")
            return redirect("rating:audio_check", slug=slug)
        return to_step(participant)
    services.audio_check_digits(participant)
    return _audio_page(request, experiment, participant, form)


def _audio_page(request, experiment, participant, form, status=200):
    context = {
        "experiment": experiment,
        "form": form,
        "error": first_error(form) if form.is_bound and form.errors else "",
        "attempt": participant.audio_check_attempts + 1,
        "max_attempts": audiocheck.MAX_ATTEMPTS,
    }
    return render(request, "rating/audio_check.html", context, status=status)


@refusals
@require_safe
def audio_check_clip(request, slug):
    participant = services.require_participant(request, slug)
    if participant.audio_check_passed is not None or not participant.audio_check_digits:
        raise services.Refused("There is no audio check waiting for you.", 404)
    response = HttpResponse(audiocheck.clip_wav(participant.audio_check_digits), content_type="audio/wav")
    response["Cache-Control"] = "no-store"
    return response


@refusals
@require_http_methods(["GET", "POST"])
def training(request, slug):
    participant = services.require_participant(request, slug)
    experiment = participant.experiment
    if request.method == "POST":
        services.finish_training(participant)
        return to_step(participant)
    if services.next_step(participant) != "rating:training":
        return to_step(participant)
    clips = services.training_stimuli(experiment)
    return render(request, "rating/training.html", {"experiment": experiment, "clips": clips, "scale": SCALE})


@refusals
@require_http_methods(["GET", "POST"])
def rate(request, slug):
    if request.method == "POST":
        form = RatingForm(request.POST)
        if form.is_valid():
            services.submit_rating(request, slug, form.cleaned_data["clip"], form.cleaned_data["score"])
            return redirect("rating:rate", slug=slug)
        participant = services.require_participant(request, slug)
        return _rate_page(request, participant.experiment, participant, error=first_error(form), status=400)
    participant = services.require_participant(request, slug)
    if services.next_step(participant) != "rating:rate":
        return to_step(participant)
    return _rate_page(request, participant.experiment, participant)


def _rate_page(request, experiment, participant, error="", status=200):
    assignment = services.current_assignment(participant)
    if assignment is None:
        return to_step(participant)
    done, total = services.progress(participant)
    context = {
        "experiment": experiment,
        "assignment": assignment,
        "clip_url": reverse("rating:clip", args=[assignment.stimulus.token]),
        "resume_url": reverse("rating:entry", args=[experiment.slug]) + f"?resume={participant.token}",
        "number": done + 1,
        "total": total,
        "done": done,
        "scale": SCALE,
        "error": error,
    }
    return render(request, "rating/rate.html", context, status=status)


@refusals
@require_POST
def played(request, slug):
    participant = services.require_participant(request, slug)
    form = ClipForm(request.POST)
    if not form.is_valid():
        raise services.Refused(first_error(form), 400)
    services.record_played(participant, form.cleaned_data["clip"])
    return HttpResponse(status=204)


@refusals
@require_GET
def done(request, slug):
    participant = services.require_participant(request, slug)
    experiment = participant.experiment
    if not services.finish(participant):
        return to_step(participant)
    return render(request, "rating/done.html", {"experiment": experiment})


@refusals
@require_safe
def clip(request, token):
    stimulus = services.clip_for_participant(request, token)
    return ranged_file_response(request, stimulus.file, "video/mp4")
