"""Staff-only pages of the researcher: results, exports, build progress, stimulus media."""

import csv

from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.http import FileResponse, Http404, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render

from . import services
from .models import Experiment, Stimulus


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
        "results": services.collect_results(experiment),
        "opts": Experiment._meta,
    }
    return render(request, "experiments/results.html", context)


@staff_member_required
def export_csv(request, pk):
    experiment = get_object_or_404(Experiment, pk=pk)
    writer = csv.writer(_Echo())
    response = StreamingHttpResponse(
        (writer.writerow(row) for row in services.csv_rows(experiment)), content_type="text/csv"
    )
    response["Content-Disposition"] = f'attachment; filename="{experiment.slug}-ratings.csv"'
    return response


@staff_member_required
def export_manifest(request, pk):
    experiment = get_object_or_404(Experiment, pk=pk)
    response = JsonResponse(services.manifest(experiment), json_dumps_params={"indent": 2})
    response["Content-Disposition"] = f'attachment; filename="{experiment.slug}-manifest.json"'
    return response


@staff_member_required
def progress(request, pk):
    experiment = get_object_or_404(Experiment, pk=pk)
    return JsonResponse(
        {
            "status": experiment.status,
            "progress": services.build_progress(experiment),
            "stimuli": services.stimulus_counts(experiment),
        }
    )


@staff_member_required
def stimulus_media(request, token):
    stimulus = get_object_or_404(Stimulus, token=token)
    if not stimulus.file:
        raise Http404("this stimulus has no file yet")
    return FileResponse(stimulus.file.open("rb"), content_type="video/mp4")
