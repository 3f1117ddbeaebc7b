"""The researcher's admin: experiments with build/open/close/results, methods and stimuli (the
media's admin is in library_admin)."""

from django.contrib import admin, messages
from django.db.models import Count
from django.http import HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from workers import liveness

from . import actions, preview
from .forms import ExperimentForm, MethodForm
from .hubs import hub_shares
from .library_admin import DurationAdmin
from .method_import import ImportRefused
from .method_upload import MethodUploadForm, import_upload
from .models import Experiment, Method, Stimulus


def look_summary(look) -> str:
    if look.details.get("rule") == "precision":
        return "; ".join(
            f"{label} ± {width:.2f}" if width is not None else f"{label}: no CI"
            for label, width in look.details["half_widths"].items()
        )
    return "; ".join(
        f"{name}: p {row['p']:.3g} vs {row['nominal']:.3g}{' (decided)' if row['decided'] else ''}"
        if row["p"] is not None
        else f"{name}: no ratings"
        for name, row in look.details.get("comparisons", {}).items()
    )


def collapse_warnings(experiment: Experiment) -> list[str]:
    """A line per method whose retrieved sounds collapsed onto one (experiments.hubs)."""
    return [
        f"{label}: one sound for {hub['hub_share']:.0%} of its {hub['videos']} videos "
        f"({hub['distinct']} distinct sound{'' if hub['distinct'] == 1 else 's'})"
        for label, hub in hub_shares(experiment).items()
        if hub["collapsed"]
    ]


class MethodInline(admin.TabularInline):
    model = Method
    form = MethodForm
    extra = 0

    def _editable(self, obj):
        # Methods define the stimuli: they change only while the experiment is a draft.
        return obj is None or obj.status == Experiment.Status.DRAFT

    def has_add_permission(self, request, obj=None):
        return self._editable(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._editable(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._editable(obj) and super().has_delete_permission(request, obj)


@admin.register(Experiment)
class ExperimentAdmin(admin.ModelAdmin):
    form = ExperimentForm
    inlines = [MethodInline]
    list_display = ["title", "status", "stimuli_built", "participant_count", "links"]
    list_filter = ["status"]
    search_fields = ["title", "slug"]
    prepopulated_fields = {"slug": ["title"]}
    filter_horizontal = ["videos"]
    readonly_fields = ["status", "opened_at", "closed_at", "stopped_at", "stop_reason", "looks_taken"]
    actions = ["build_action", "open_action", "close_action"]
    fieldsets = [
        (None, {"fields": ["title", "slug", "status", "instructions", "opened_at", "closed_at"]}),
        ("Media", {"fields": ["videos", "sound_library"]}),
        ("Muxing", {"fields": ["mux_mode", "overlay_gain_db", "duck_db", "loudness_lufs"]}),
        (
            "Design",
            {
                "fields": [
                    "design",
                    "clips_per_participant",
                    "gold_clips",
                    "trap_clips",
                    "training_clips",
                    "seed",
                ]
            },
        ),
        ("Recruiting", {"fields": ["participants_wanted", "completion_code", "redirect_url"]}),
        ("Questions per clip", {"fields": ["ask_quality", "ask_sync"]}),
        (
            "Adaptive stopping",
            {
                "fields": [
                    "stopping_rule",
                    "look_every",
                    "planned_comparisons",
                    "target_ci_half_width",
                    "stopped_at",
                    "stop_reason",
                    "looks_taken",
                ]
            },
        ),
        (
            "Screening (P.808 defaults)",
            {
                "fields": [
                    "screen_audio_check",
                    "headphone_check",
                    "screen_max_gold_failures",
                    "screen_max_trap_failures",
                    "screen_min_score_sd",
                    "screen_max_unplayed",
                ]
            },
        ),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(participant_total=Count("participants", distinct=True))

    @admin.display(description="looks")
    def looks_taken(self, obj):
        """Each look of the stopping rule as it was taken: kept participants, figures, decision."""
        looks = list(obj.looks.all()) if obj.pk else []
        if not looks:
            return "No look yet."
        rows = [
            (lk.number, lk.kept, f"{lk.information:.2f}", look_summary(lk), lk.reason or "continue")
            for lk in looks
        ]
        return format_html_join("", "<div>Look {}: {} kept (information {}): {} → {}</div>", rows)

    @admin.display(description="stimuli built")
    def stimuli_built(self, obj):
        counts = actions.stimulus_counts(obj)
        return f"{counts['done']} / {counts['total']}"

    @admin.display(ordering="participant_total", description="participants")
    def participant_count(self, obj):
        return f"{obj.participant_total} / {obj.participants_wanted}"

    @admin.display(description="")
    def links(self, obj):
        return format_html(
            '<a href="{}">results</a> · <a href="{}">preview</a> · <a href="{}">plan</a>',
            reverse("experiments:results", args=[obj.pk]),
            reverse("admin:experiments_experiment_preview", args=[obj.pk]),
            reverse("experiments:plan", args=[obj.pk]),
        )

    # --- actions on the change list -----------------------------------------------------

    @admin.action(description="Build stimuli", permissions=["change"])
    def build_action(self, request, queryset):
        for experiment in queryset:
            if self._run(request, experiment, actions.start_build):
                self._warn_idle_queues(request, experiment)

    @admin.action(description="Open (participants can take part)", permissions=["change"])
    def open_action(self, request, queryset):
        warned = {e: collapse_warnings(e) for e in queryset}
        if any(warned.values()) and request.POST.get("confirm_collapsed") != "yes":
            return self._confirm_open(request, warned, action="open_action")
        for experiment in queryset:
            self._run(request, experiment, actions.open_experiment, f"'{experiment}' is open.")
        return None

    @admin.action(description="Close", permissions=["change"])
    def close_action(self, request, queryset):
        for experiment in queryset:
            self._run(request, experiment, actions.close_experiment, f"'{experiment}' is closed.")

    def _run(self, request, experiment, action, done=None):
        try:
            line = action(experiment)
        except actions.ActionRefused as refused:
            for problem in refused.problems:
                self.message_user(request, f"Refused: {problem}", messages.ERROR)
            return False
        self.message_user(request, done or line, messages.SUCCESS)
        self.log_change(request, experiment, done or line)  # History lists builds, opens and closes
        return True

    def _warn_idle_queues(self, request, experiment):
        # A build waits for ever on a queue that no worker consumes: say so at once.
        for problem in liveness.missing_workers(experiment):
            self.message_user(request, problem, messages.WARNING)

    # --- buttons on the change page -----------------------------------------------------

    BUTTONS: dict[str, list[tuple[str, str]]] = {
        Experiment.Status.DRAFT: [("build", "Build stimuli"), ("resume", "Resume build"), ("open", "Open")],
        Experiment.Status.OPEN: [("close", "Close")],
        Experiment.Status.CLOSED: [("open", "Reopen")],
    }

    def change_view(self, request, object_id, form_url="", extra_context=None):
        experiment = Experiment.objects.filter(pk=object_id).first() if object_id.isdigit() else None
        buttons = self.BUTTONS.get(experiment.status, []) if experiment else []
        extra = {"experiment_buttons": [(f"admin:experiments_experiment_{a}", label) for a, label in buttons]}
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/build/", view(self.build_view), name="experiments_experiment_build"),
            path("<int:pk>/resume/", view(self.resume_view), name="experiments_experiment_resume"),
            path("<int:pk>/open/", view(self.open_view), name="experiments_experiment_open"),
            path("<int:pk>/close/", view(self.close_view), name="experiments_experiment_close"),
            path("<int:pk>/preview/", view(self.preview_view), name="experiments_experiment_preview"),
            path("<int:pk>/import-method/", view(self.import_method_view),
                 name="experiments_experiment_import_method"),  # fmt: skip
            *super().get_urls(),
        ]

    def _button(self, request, pk, action, done=None, builds=False):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        experiment = get_object_or_404(Experiment, pk=pk)
        if not self.has_change_permission(request, experiment):
            self.message_user(request, "Refused: you may not change this experiment.", messages.ERROR)
        elif self._run(request, experiment, action, done) and builds:
            self._warn_idle_queues(request, experiment)
        return redirect("admin:experiments_experiment_change", pk)

    def build_view(self, request, pk):
        return self._button(request, pk, actions.start_build, builds=True)

    def resume_view(self, request, pk):
        return self._button(request, pk, actions.resume_build, builds=True)

    def open_view(self, request, pk):
        experiment = get_object_or_404(Experiment, pk=pk)
        warned = {experiment: collapse_warnings(experiment)}
        if request.method == "POST" and warned[experiment] and request.POST.get("confirm_collapsed") != "yes":
            return self._confirm_open(request, warned)
        return self._button(request, pk, actions.open_experiment, "The experiment is open.")

    def _confirm_open(self, request, warned: dict, action: str = ""):
        """A page that says which methods collapsed and opens only when the researcher confirms:
        posted back to the change list's action (`action`) or to the change page's Open button."""
        one = next(iter(warned))
        context = {
            **self.admin_site.each_context(request),
            "title": "Open a study whose methods collapsed?",
            "warned": [(experiment, lines) for experiment, lines in warned.items() if lines],
            "experiments": list(warned),
            "action": action,
            "cancel": reverse("admin:experiments_experiment_changelist")
            if action
            else reverse("admin:experiments_experiment_change", args=[one.pk]),
            "opts": self.opts,
        }
        return render(request, "admin/experiments/experiment/confirm_open.html", context)

    def close_view(self, request, pk):
        return self._button(request, pk, actions.close_experiment, "The experiment is closed.")

    def preview_view(self, request, pk):
        experiment = get_object_or_404(Experiment, pk=pk)
        context = {
            **self.admin_site.each_context(request),
            **preview.preview_page(experiment, request.GET),
            "title": f"Preview: {experiment}",
            "experiment": experiment,
            "opts": self.opts,
        }
        return render(request, "admin/experiments/experiment/preview.html", context)


    def import_method_view(self, request, pk):
        """An outside system's outputs as a method (experiments.method_upload)."""
        experiment = get_object_or_404(Experiment, pk=pk)
        if not self.has_change_permission(request, experiment):
            self.message_user(request, "Refused: you may not change this experiment.", messages.ERROR)
            return redirect("admin:experiments_experiment_change", pk)
        form = MethodUploadForm(request.POST or None, request.FILES or None)
        problems: list[str] = []
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                method = import_upload(experiment, data["label"], data["form"], data["upload"])
            except ImportRefused as exc:
                problems = exc.problems
            else:
                self.message_user(request, f"Imported method '{method}' ({method.outputs.count()} outputs): "
                                  "build the experiment to make its clips.", messages.SUCCESS)  # fmt: skip
                return redirect("admin:experiments_experiment_change", pk)
        title = f"Import a method into '{experiment}'"
        context = {**self.admin_site.each_context(request), "title": title, "experiment": experiment,
                   "form": form, "problems": problems, "opts": self.opts}  # fmt: skip
        return render(request, "admin/experiments/experiment/import_method.html", context)


class MethodFilter(admin.SimpleListFilter):
    """By method label: the same label in several experiments is one choice (with the experiment
    filter beside it, one method)."""

    title = "method"
    parameter_name = "method"

    def lookups(self, request, model_admin):
        labels = Method.objects.order_by("label").values_list("label", flat=True).distinct()
        return [(label, label) for label in labels]

    def queryset(self, request, queryset):
        return queryset.filter(method__label=self.value()) if self.value() else queryset


@admin.register(Stimulus)
class StimulusAdmin(DurationAdmin):
    """Read-only: stimuli are made by the build, never by hand."""

    list_display = ["experiment", "video", "method", "role", "status", "sound", "rank", "distance", "seconds"]
    list_filter = ["experiment", MethodFilter, ("video", admin.RelatedOnlyFieldListFilter), "role", "status"]
    search_fields = ["token", "video__name", "error"]
    exclude = ["duration"]
    readonly_fields = ["seconds", "built_from"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
