"""Staff-only pages of the researcher: results, exports, build progress, stimulus media."""

import csv

from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.http import FileResponse, Http404, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render

from workers import liveness

from . import actions, exports, planning
from .forms import PlanForm
from .hubs import hub_shares
from .models import Experiment, Stimulus
from .results import collect_results, pilot_figures


class _Echo:
    def write(self, value):
        return value


@staff_member_required
def results(request, pk):
    experiment = get_object_or_404(Experiment, pk=pk)
    context = {
        **admin.site.each_context(request),
        "title": f"Results: {experiment}",
        "experiment": experiment,
        "results": collect_results(experiment),
        "looks": experiment.looks.all(),
        "opts": Experiment._meta,
    }
    return render(request, "experiments/results.html", context)


@staff_member_required
def export_csv(request, pk):
    experiment = get_object_or_404(Experiment, pk=pk)
    writer = csv.writer(_Echo())
    response = StreamingHttpResponse(
        (writer.writerow(row) for row in exports.csv_rows(experiment)), content_type="text/csv"
    )
    response["Content-Disposition"] = f'attachment; filename="{experiment.slug}-ratings.csv"'
    return response


@staff_member_required
def export_manifest(request, pk):
    experiment = get_object_or_404(Experiment, pk=pk)
    return json_download(exports.manifest(experiment), f"{experiment.slug}-manifest.json")


@staff_member_required
def progress(request, pk):
    experiment = get_object_or_404(Experiment, pk=pk)
    return JsonResponse(
        {
            "status": experiment.status,
            "progress": actions.build_progress(experiment),
            "stimuli": actions.stimulus_counts(experiment),
            "health": actions.build_health(experiment),
            "hubness": hub_shares(experiment),
            # Queues the build waits on that no worker consumes; what each model's gpu phase does.
            "workers": {
                "missing": liveness.missing_workers(experiment),
                "gpu": liveness.gpu_activity(experiment),
            },
            # A draft's clips that no longer match its settings (what Open would refuse).
            "freshness": actions.freshness_problems(experiment, max_age=10)
            if experiment.status == Experiment.Status.DRAFT else [],
        }
    )


@staff_member_required
def stimulus_media(request, token):
    stimulus = get_object_or_404(Stimulus, token=token)
    if not stimulus.file:
        raise Http404("this stimulus has no file yet")
    return FileResponse(stimulus.file.open("rb"), content_type="video/mp4")


@staff_member_required
def plan(request, pk):
    """Sample-size planning: the power of each comparison over numbers of participants."""
    experiment = get_object_or_404(Experiment, pk=pk)
    form = PlanForm(request.GET if "sd" in request.GET else None, experiment=experiment)
    context = {
        **admin.site.each_context(request),
        "title": f"Plan the sample size: {experiment}",
        "experiment": experiment,
        "form": form,
        "opts": Experiment._meta,
    }
    if form.is_bound and form.is_valid():
        try:
            context["plan"] = _plan(experiment, form)
        except ValueError as exc:
            form.add_error(None, str(exc))
    return render(request, "experiments/plan.html", context)


def _plan(experiment, form) -> dict:
    data = form.cleaned_data
    labels = [m.label for m in form.methods]
    exclusion = data["exclusion"]
    if data["pilot"] is not None:
        scores, exclusion = pilot_figures(data["pilot"])
        missing = [label for label in labels if not scores.get(label)]
        if missing:
            raise ValueError(f"the pilot '{data['pilot']}' has no kept ratings of {', '.join(missing)}")
        distributions = {label: planning.from_ratings(scores[label]) for label in labels}
    else:
        assumed = form.assumed_mos()
        distributions = {label: planning.from_mos(mos, data["sd"]) for label, mos in assumed.items()}
    mos = {label: float(planning.SCORES @ p) for label, p in distributions.items()}
    family = experiment.comparison_family()  # the results' family: power as the results will test
    if experiment.planned_comparisons.strip():
        pairs = family
    else:  # of every ordered pair, those the assumed MOS expect to hold
        pairs = [(a, b) for a, b in family if mos[a] > mos[b] + 1e-9]
    points = planning.simulate(
        distributions, data["participants"], design=experiment.design, videos=data["videos"],
        clips=experiment.clips_per_participant, exclusion=exclusion, alpha=data["alpha"],
        simulations=data["simulations"], seed=data["seed"], family=family,
    )  # fmt: skip
    sentences = [planning.power_sentence(points, pair, data["alpha"]) for pair in pairs]
    return {
        "mos": mos,
        "exclusion": exclusion,
        "pairs": [f"{a} > {b}" for a, b in pairs],
        "rows": [
            {"point": p, "cells": [{"pair": f"{a} > {b}", "power": p.power[(a, b)], "se": p.mc_error((a, b))}
                                   for a, b in pairs]}
            for p in points
        ],
        "sentences": sentences,
        "chart_svg": planning.power_chart_svg(points, pairs, data["alpha"]) if pairs else "",
    }


@staff_member_required
def export_results(request, pk):
    """The analysis as JSON: every attribute's MOS and tests, ratings against the model, the looks."""
    experiment = get_object_or_404(Experiment, pk=pk)
    return json_download(exports.results_json(experiment), f"{experiment.slug}-results.json")


def json_download(data, filename: str) -> JsonResponse:
    response = JsonResponse(data, json_dumps_params={"indent": 2})
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
