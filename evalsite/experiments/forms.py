"""Admin forms: uploads are probed like imports, methods and designs are checked for consistency."""

import re
from pathlib import Path

from django import forms

from media import MediaInfo

from . import importer
from .models import Experiment, Method, Sound, Video


class _UploadForm(forms.ModelForm):
    """Probes the uploaded file with PyAV and fills in sha256, duration and stream facts."""

    kind = ""

    # Per kind of upload: the check, the facts stored, the default name, the duplicate it would be.
    def check(self, info: MediaInfo) -> MediaInfo:
        raise NotImplementedError

    def fields_from(self, info: MediaInfo) -> dict:
        raise NotImplementedError

    def default_name(self, path: Path) -> str:
        raise NotImplementedError

    def duplicate_of(self, digest: str) -> Video | Sound | None:
        raise NotImplementedError

    def clean_file(self):
        upload = self.cleaned_data.get("file")
        if upload is None or not hasattr(upload, "content_type"):  # unchanged file on an edit
            return upload
        name = Path(upload.name).name
        try:
            info = importer.probe(_source(upload), name)
            self.media_info = self.check(info)
        except importer.MediaError as exc:
            raise forms.ValidationError(str(exc)) from None
        finally:
            upload.seek(0)
        self.digest = importer.sha256_of(upload)
        duplicate = self.duplicate_of(self.digest)
        if duplicate is not None:
            raise forms.ValidationError(f"{name}: the same file is already stored as '{duplicate.name}'")
        return upload

    def clean(self):
        super().clean()
        cleaned = self.cleaned_data
        if not cleaned.get("name") and cleaned.get("file") is not None:
            cleaned["name"] = self.default_name(Path(cleaned["file"].name))
        return cleaned

    def save(self, commit=True):
        obj = super().save(commit=False)
        if hasattr(self, "media_info"):
            obj.sha256 = self.digest
            for key, value in self.fields_from(self.media_info).items():
                setattr(obj, key, value)
        if commit:
            obj.save()
            self.save_m2m()
        return obj


def _source(upload):
    # Large uploads are already on disk; small ones live in memory and PyAV reads the object.
    path = getattr(upload, "temporary_file_path", None)
    return path() if path else upload


class VideoForm(_UploadForm):
    name = forms.CharField(max_length=200, required=False, help_text="Defaults to the file name.")

    class Meta:
        model = Video
        fields = ["name", "file", "effect_onset", "source"]

    check = staticmethod(importer.check_video)
    fields_from = staticmethod(importer.video_fields)

    @staticmethod
    def default_name(path: Path) -> str:
        return path.name  # with its suffix, as imports name videos: door.mp4 and door.ogv stay apart

    def duplicate_of(self, digest):
        return Video.objects.filter(sha256=digest).exclude(pk=self.instance.pk).first()


class SoundForm(_UploadForm):
    name = forms.CharField(max_length=200, required=False, help_text="Defaults to the file name.")

    class Meta:
        model = Sound
        fields = ["library", "name", "file", "sound_class", "onset", "source"]

    check = staticmethod(importer.check_sound)
    fields_from = staticmethod(importer.sound_fields)

    @staticmethod
    def default_name(path: Path) -> str:
        return path.stem

    def duplicate_of(self, digest):
        library = self.cleaned_data.get("library")
        if library is None:
            return None
        return library.sounds.filter(sha256=digest).exclude(pk=self.instance.pk).first()

    def clean(self):
        super().clean()
        cleaned = self.cleaned_data
        library, name = cleaned.get("library"), cleaned.get("name")
        if library and name and library.sounds.filter(name=name).exclude(pk=self.instance.pk).exists():
            self.add_error("name", f"library '{library}' already has a sound named '{name}'")
        return cleaned


class MethodForm(forms.ModelForm):
    class Meta:
        model = Method
        fields = ["kind", "trained_model", "label", "order", "hubness"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["hubness"].required = False  # left out: the model field's default

    def clean_hubness(self):
        return self.cleaned_data.get("hubness") or Method._meta.get_field("hubness").default

    def clean(self):
        super().clean()
        cleaned = self.cleaned_data
        kind, model = cleaned.get("kind"), cleaned.get("trained_model")
        if kind == Method.Kind.MODEL and model is None:
            self.add_error("trained_model", "A 'Trained model' method needs a trained model.")
        if kind in (Method.Kind.RANDOM, Method.Kind.ORIGINAL, Method.Kind.IMPORTED) and model is not None:
            self.add_error("trained_model", f"A '{kind}' method takes no trained model; leave it empty.")
        # An imported method's outputs come with it (Import a method) and belong to its kind.
        was_imported = bool(self.instance.pk) and self.instance.kind == Method.Kind.IMPORTED
        if kind and (kind == Method.Kind.IMPORTED) != was_imported:
            self.add_error("kind", "An imported method is added with 'Import a method' on the experiment "
                           "page, with its outputs, and keeps its kind.")  # fmt: skip
        return cleaned


class ExperimentForm(forms.ModelForm):
    redirect_url = forms.URLField(
        required=False, assume_scheme="https", help_text="Crowd platform completion URL."
    )

    class Meta:
        model = Experiment
        fields = [
            "title", "slug", "instructions", "videos", "sound_library", "mux_mode", "overlay_gain_db",
            "duck_db", "loudness_lufs", "design", "clips_per_participant", "gold_clips", "trap_clips",
            "training_clips", "seed", "participants_wanted", "completion_code", "redirect_url",
            "screen_audio_check", "headphone_check", "screen_max_gold_failures", "screen_max_trap_failures",
            "screen_min_score_sd", "screen_max_unplayed", "ask_quality", "ask_sync", "stopping_rule",
            "look_every", "planned_comparisons", "target_ci_half_width",
        ]  # fmt: skip
        labels = {
            "ask_quality": "Ask about audio quality",
            "ask_sync": "Ask about audio-visual synchrony",
            "look_every": "Look every K kept participants",
            "target_ci_half_width": "Target CI half-width",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Optional in a post, as the default was before the rule existed.
        self.fields["stopping_rule"].required = False

    def clean_stopping_rule(self):
        return self.cleaned_data.get("stopping_rule") or Experiment.StoppingRule.NONE

    def clean(self):
        super().clean()
        cleaned = self.cleaned_data
        self.check_clips(cleaned)
        self.check_stopping(cleaned)
        self.check_soundtrack(cleaned)
        self.check_open_changes()
        return cleaned

    def check_clips(self, cleaned: dict) -> None:
        """A number of clips per participant: balanced design only, at least 1, at most the videos."""
        clips, videos = cleaned.get("clips_per_participant"), cleaned.get("videos")
        balanced = cleaned.get("design") == Experiment.Design.BALANCED
        if clips and not balanced:
            self.add_error("clips_per_participant", "Only the balanced design takes a number of clips.")
        if clips == 0:
            self.add_error("clips_per_participant", "Must be at least 1, or empty for one clip per video.")
        if clips and balanced and videos is not None and clips > len(videos):
            self.add_error(
                "clips_per_participant",
                f"{clips} clips but only {len(videos)} videos: balanced shows each video once.",
            )

    def check_stopping(self, cleaned: dict) -> None:
        """What the chosen stopping rule needs to run."""
        rule = cleaned.get("stopping_rule")
        if rule == Experiment.StoppingRule.SEQUENTIAL and not cleaned.get("look_every"):
            self.add_error("look_every", "The group-sequential rule needs the kept participants per look.")
        if rule == Experiment.StoppingRule.PRECISION and not cleaned.get("target_ci_half_width"):
            self.add_error("target_ci_half_width", "The precision rule needs a target CI half-width.")
        if cleaned.get("look_every") == 0:
            self.add_error("look_every", "Must be at least 1.")

    def check_soundtrack(self, cleaned: dict) -> None:
        videos = cleaned.get("videos")
        if videos is not None:
            problem = Experiment.soundtrack_problem(self.method_kinds(), cleaned.get("mux_mode"), videos)
            if problem:
                self.add_error("videos", problem)

    def check_open_changes(self) -> None:
        """An open study takes only changes that leave its clips and design as participants see them."""
        if self.instance.pk and self.instance.status == Experiment.Status.OPEN:
            changed = set(self.changed_data) - {"title", "instructions", "participants_wanted"}
            changed -= {name for name in self.changed_data if name.startswith("screen_")}
            if changed:
                raise forms.ValidationError(
                    "The experiment is open: close it before changing " + ", ".join(sorted(changed)) + "."
                )

    def method_kinds(self) -> set[str]:
        """The methods' kinds as submitted with this form (the admin's inline rows, not deleted);
        the saved ones when the inline is not part of the request."""
        kinds = {
            value for key, value in self.data.items()
            if re.fullmatch(r"methods-\d+-kind", key) and not self.data.get(key[: -len("kind")] + "DELETE")
        }  # fmt: skip
        if not any(key.startswith("methods-") for key in self.data) and self.instance.pk:
            kinds = set(self.instance.methods.values_list("kind", flat=True))
        return kinds


class PlanForm(forms.Form):
    """Assumptions of a sample-size plan: per-method MOS and SD, or a pilot experiment's ratings."""

    pilot = forms.ModelChoiceField(
        Experiment.objects.all(),
        required=False,
        help_text="Use a pilot's kept ratings per method (same method labels) and its exclusion rate; "
        "the MOS and SD below are then ignored.",
    )
    sd = forms.FloatField(initial=1.0, min_value=0.05, max_value=4.0, label="SD of a rating")
    exclusion = forms.FloatField(
        initial=0.1, min_value=0.0, max_value=0.95, label="Share excluded by screening",
        help_text="0.1 = one participant in ten.",
    )  # fmt: skip
    videos = forms.IntegerField(min_value=1, max_value=10_000, help_text="Videos in the experiment.")
    participants = forms.CharField(
        initial="10, 20, 30, 40, 60", label="Participants recruited",
        help_text="Numbers to simulate, separated by commas (at most 12).",
    )  # fmt: skip
    simulations = forms.IntegerField(initial=500, min_value=100, max_value=5000)
    alpha = forms.FloatField(initial=0.05, min_value=0.001, max_value=0.2)
    seed = forms.IntegerField(initial=0, min_value=0)

    def __init__(self, *args, experiment, **kwargs):
        super().__init__(*args, **kwargs)
        self.experiment = experiment
        self.methods = list(experiment.methods.all())
        pilot = self.fields["pilot"]
        assert isinstance(pilot, forms.ModelChoiceField)  # declared above; the copy this form owns
        pilot.queryset = Experiment.objects.exclude(pk=experiment.pk)
        self.fields["videos"].initial = experiment.videos.count() or 10
        for method in self.methods:
            self.fields[f"mos_{method.pk}"] = forms.FloatField(
                required=False, min_value=1.0, max_value=5.0, label=f"Assumed MOS of {method.label}"
            )

    def clean_participants(self):
        text = self.cleaned_data["participants"]
        try:
            values = sorted({int(part) for part in text.replace(";", ",").split(",") if part.strip()})
        except ValueError:
            raise forms.ValidationError(
                f"'{text}' is not a list of whole numbers separated by commas"
            ) from None
        if not values or len(values) > 12 or values[0] < 1 or values[-1] > 2000:
            raise forms.ValidationError("Give 1 to 12 numbers of participants between 1 and 2000.")
        return values

    def clean(self):
        super().clean()
        cleaned = self.cleaned_data
        if len(self.methods) < 2:
            raise forms.ValidationError("The experiment needs at least two methods to plan a comparison.")
        if cleaned.get("pilot") is None:
            for method in self.methods:
                if cleaned.get(f"mos_{method.pk}") is None and f"mos_{method.pk}" not in self.errors:
                    message = f"Give the MOS you expect for {method.label}, or a pilot."
                    self.add_error(f"mos_{method.pk}", message)
        return cleaned

    def assumed_mos(self) -> dict[str, float]:
        return {m.label: self.cleaned_data[f"mos_{m.pk}"] for m in self.methods}
