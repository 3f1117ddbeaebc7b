"""The researcher's preview of an experiment's clips: filtered by method and video, a page at a time."""

from django import forms
from django.core.paginator import Page, Paginator

from .models import Experiment, Method, Video

PREVIEW_PAGE = 25  # clips per page: each row holds a player


class ShownBy(forms.ModelChoiceField):
    """A choice labelled by one field of its row (a method's label, a video's name)."""

    def __init__(self, shown: str, **kwargs):
        self.shown = shown
        super().__init__(queryset=None, required=False, **kwargs)

    def label_from_instance(self, obj) -> str:
        return getattr(obj, self.shown)


class PreviewFilter(forms.Form):
    method = ShownBy("label", empty_label="every method")
    video = ShownBy("name", empty_label="every video")

    def __init__(self, data, experiment: Experiment):
        super().__init__(data)
        self.fields["method"].queryset = experiment.methods.order_by("order", "id")  # type: ignore[attr-defined]
        # Every video the experiment has clips of, a removed one included while its clips remain.
        videos = Video.objects.filter(stimuli__experiment=experiment).distinct().order_by("name")
        self.fields["video"].queryset = videos  # type: ignore[attr-defined]


def preview_page(experiment: Experiment, query) -> dict:
    """The filter form, the page of clips `query` asks for and how many clips it selects."""
    form = PreviewFilter(query, experiment)
    stimuli = experiment.stimuli.select_related("video", "method", "sound").order_by(
        "role", "video__name", "method__order", "method__id"
    )
    chosen = form.cleaned_data if form.is_valid() else {}
    method: Method | None = chosen.get("method")
    video: Video | None = chosen.get("video")
    if method is not None:
        stimuli = stimuli.filter(method=method)
    if video is not None:
        stimuli = stimuli.filter(video=video)
    page: Page = Paginator(stimuli, PREVIEW_PAGE).get_page(query.get("page"))
    return {
        "form": form,
        "page": page,
        "filtered": method is not None or video is not None,
        "total": experiment.stimuli.count(),
    }
