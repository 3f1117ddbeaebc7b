"""Studies: experiments, the methods they compare, the stimuli built for them, and their looks."""

import uuid
from collections.abc import Collection, Iterable

from django.db import models
from django.db.models import Q
from django.utils import timezone

from . import choices
from .comparisons import parse_comparisons
from .imported import ImportedOutput
from .library import Sound, SoundLibrary, Video, blind_name
from .looks import Look

# Every model of the app, wherever it is defined (Django registers the models imported here).
__all__ = ["Experiment", "ImportedOutput", "Look", "Method", "Sound", "SoundLibrary", "Stimulus", "Video"]


def stimulus_upload_to(instance, filename):
    return blind_name("stimuli", filename)


class ExperimentQuerySet(models.QuerySet):
    def open(self):
        return self.filter(status=Experiment.Status.OPEN)


class Experiment(models.Model):
    """A listening test: videos, the methods whose sounds are compared on them, the design, and
    the life cycle draft (being set up) -> open (the link enrols participants) -> closed."""

    Status = choices.Status
    MuxMode = choices.MuxMode
    Design = choices.Design
    StoppingRule = choices.StoppingRule

    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True, help_text="Used in the participant link.")
    instructions = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    videos = models.ManyToManyField(Video, related_name="experiments", blank=True)
    sound_library = models.ForeignKey(
        SoundLibrary, on_delete=models.PROTECT, related_name="experiments", null=True, blank=True
    )
    mux_mode = models.CharField(max_length=10, choices=MuxMode.choices, default=MuxMode.REPLACE)
    overlay_gain_db = models.FloatField(default=0.0, help_text="Gain of the retrieved sound.")
    duck_db = models.FloatField(default=-12.0, help_text="Gain of the original under overlay.")
    loudness_lufs = models.FloatField(default=-23.0, help_text="Target loudness of every clip.")
    design = models.CharField(max_length=10, choices=Design.choices, default=Design.FULL)
    clips_per_participant = models.PositiveIntegerField(
        null=True, blank=True, help_text="Balanced design only; empty means one per video."
    )
    gold_clips = models.PositiveIntegerField(default=1)
    trap_clips = models.PositiveIntegerField(default=1)
    training_clips = models.PositiveIntegerField(default=3)
    participants_wanted = models.PositiveIntegerField(default=20)
    completion_code = models.CharField(max_length=100, blank=True)
    redirect_url = models.URLField(blank=True, help_text="Crowd platform completion URL.")
    seed = models.PositiveIntegerField(default=0)
    # The next participant's arrival number, taken by one atomic UPDATE so enrolments run in parallel.
    next_sequence = models.PositiveIntegerField(default=0, editable=False)
    # Participant screening (ITU-T P.808's rules as defaults). An empty limit turns the rule off.
    screen_audio_check = models.BooleanField(
        default=True, help_text="Exclude participants who did not pass the audio check."
    )
    headphone_check = models.BooleanField(
        default=False, help_text="Also ask for the headphone check (antiphase test); screen out who fails it."
    )
    screen_max_gold_failures = models.PositiveIntegerField(
        null=True, blank=True, default=0, help_text="Gold clips a participant may fail; empty: no limit."
    )
    screen_max_trap_failures = models.PositiveIntegerField(
        null=True, blank=True, default=0, help_text="Trapping clips a participant may fail; empty: no limit."
    )
    screen_min_score_sd = models.FloatField(
        null=True,
        blank=True,
        default=0.25,
        help_text="Exclude participants whose test scores have a smaller standard deviation; empty: off.",
    )
    screen_max_unplayed = models.PositiveIntegerField(
        null=True,
        blank=True,
        default=0,
        help_text="Clips a participant may rate before playing them to the end; empty: no limit.",
    )
    # Questions asked about every clip besides the paper's (how well the sound suits the video).
    ask_quality = models.BooleanField(
        default=False, help_text="Also ask for the audio quality of each clip (five-point scale)."
    )
    ask_sync = models.BooleanField(
        default=False, help_text="Also ask how well sound and picture are in sync (five-point scale)."
    )
    # Adaptive stopping: recruiting ends early once the answer is known (see experiments/sequential.py).
    stopping_rule = models.CharField(
        max_length=12, choices=StoppingRule.choices, default=StoppingRule.NONE
    )
    look_every = models.PositiveIntegerField(
        null=True, blank=True, help_text="Look at the data every K kept participants."
    )
    planned_comparisons = models.CharField(
        max_length=500,
        blank=True,
        help_text="Group-sequential rule: 'A > B; A > C' with method labels; empty: every ordered pair.",
    )
    target_ci_half_width = models.FloatField(
        null=True, blank=True, help_text="Precision rule: stop when every method's 95% CI is within ± this."
    )
    stopped_at = models.DateTimeField(null=True, blank=True)
    stop_reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    objects = ExperimentQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return self.title

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.OPEN

    # Opening and closing: the statuses each may come from, and the time it stamps.
    TRANSITIONS = {"open": (("draft", "closed"), "opened_at"), "closed": (("open",), "closed_at")}

    def move_to(self, target: str) -> bool:
        """Opens or closes by a conditional update, so that of two researchers clicking at once only
        one wins; False when the status changed meanwhile."""
        sources, stamp = self.TRANSITIONS[target]
        now = timezone.now()
        won = Experiment.objects.filter(pk=self.pk, status__in=sources).update(status=target, **{stamp: now})
        if won:
            self.status = target
            setattr(self, stamp, now)
        return bool(won)

    def status_problem(self, target: str) -> str:
        """Why the status forbids opening or closing now ('' when it allows it)."""
        if target == self.Status.OPEN and self.status == self.Status.OPEN:
            return f"'{self}' is already open"
        if target == self.Status.CLOSED and self.status != self.Status.OPEN:
            return f"'{self}' is not open"
        return ""

    def setup_problems(self) -> list[str]:
        """What in the study's own setup forbids building its stimuli."""
        problems = []
        if self.status != self.Status.DRAFT:
            problems.append(f"'{self}' is {self.get_status_display().lower()}: only a draft can be built")
        if not self.videos.exists():
            problems.append(f"'{self}' has no videos")
        methods = list(self.methods.all())
        if not methods:
            problems.append(f"'{self}' has no methods")
        for method in methods:
            if method.kind == Method.Kind.MODEL and method.trained_model_id is None:
                problems.append(f"method '{method}' is a trained-model method without a trained model")
            missing = self.videos.exclude(imported_outputs__method=method).values_list("name", flat=True)
            if method.kind == Method.Kind.IMPORTED and missing:
                problems.append(f"imported method '{method}' has no output for: {', '.join(missing[:5])}")
        soundtrack = self.soundtrack_problem({m.kind for m in methods}, self.mux_mode, self.videos.all())
        problems += [soundtrack] if soundtrack else []
        # Model and random methods draw from the library, and so do the training clips (one is random);
        # an imported choice holds its library sound itself.
        drawing = any(m.kind in (Method.Kind.MODEL, Method.Kind.RANDOM) for m in methods)
        needs_library = drawing or self.training_clips > 0
        if needs_library and (self.sound_library is None or not self.sound_library.sounds.exists()):
            problems.append(f"'{self}' needs a sound library with sounds")
        return problems

    @staticmethod
    def soundtrack_problem(kinds: Collection[str], mux_mode: str | None, videos: Iterable[Video]) -> str:
        """Videos without audio where each video's own soundtrack is needed: by the 'original'
        method, or by overlay muxing ('' when none is missing)."""
        if Method.Kind.ORIGINAL in kinds:
            needs = "The 'Original soundtrack' method"
        elif mux_mode == Experiment.MuxMode.OVERLAY:
            needs = "Overlay muxing"
        else:
            return ""
        mute = [video.name for video in videos if not video.has_audio]
        return f"{needs} needs the videos' own soundtrack; no audio in: {', '.join(mute)}" if mute else ""

    def stimulus_set_problems(self) -> list[str]:
        """Clips the design asks for and the built set lacks (none when nothing is built yet)."""
        stimuli = self.stimuli.all()
        if not stimuli.exists():
            return []
        wanted = self.videos.count() * self.methods.count()
        missing = max(0, wanted - stimuli.tests().values("video", "method").distinct().count())
        problems = [f"{missing} video x method combinations have no test stimulus"] if missing else []
        for role, count in ((Stimulus.Role.GOLD, self.gold_clips), (Stimulus.Role.TRAP, self.trap_clips),
                            (Stimulus.Role.TRAINING, self.training_clips)):  # fmt: skip
            if count and not stimuli.filter(role=role).exists():
                problems.append(f"'{self}' asks for {role} clips but has none")
        return problems

    def stopping_problems(self) -> list[str]:
        """What the chosen stopping rule lacks to run."""
        if self.stopping_rule == self.StoppingRule.NONE:
            return []
        problems = []
        if self.stopping_rule == self.StoppingRule.PRECISION and not self.target_ci_half_width:
            problems.append("the precision stopping rule needs a target CI half-width")
        if self.stopping_rule == self.StoppingRule.SEQUENTIAL:
            try:
                self.comparison_family()
            except ValueError as exc:
                problems.append(f"planned comparisons: {exc}")
        if self.look_every and self.look_every > self.participants_wanted:
            problems.append(
                f"looks every {self.look_every} kept participants but only "
                f"{self.participants_wanted} wanted: the rule would never look early"
            )
        return problems

    def comparison_family(self) -> list[tuple[str, str]]:
        """The ordered pairs of methods that the results test, the planner simulates and the
        stopping rule decides, Holm-corrected (or alpha-spent) as one family: the planned
        comparisons, or every ordered pair of methods when none are planned."""
        labels = list(self.methods.order_by("order", "pk").values_list("label", flat=True))
        if self.planned_comparisons.strip():
            return parse_comparisons(self.planned_comparisons, labels)
        return [(a, b) for a in labels for b in labels if a != b]


class Method(models.Model):
    """One system compared in an experiment: a trained model, `random`, the `original` sound, or
    an outside system's outputs imported as they are (experiments.imported)."""

    class Kind(models.TextChoices):
        MODEL = "model", "Trained model"
        RANDOM = "random", "Random sound"
        ORIGINAL = "original", "Original soundtrack"
        IMPORTED = "imported", "Imported from outside"

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="methods")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    trained_model = models.ForeignKey(
        "retrieval.TrainedModel", on_delete=models.PROTECT, null=True, blank=True
    )
    label = models.CharField(max_length=100, help_text="Shown to researchers only.")
    order = models.PositiveIntegerField(default=0)
    # Hubness-aware retrieval of a trained model (retrieval/hubness.py); the default is the option
    # that kept the hub share low without an ACC_rank loss in docs/retrieval.md ("Hubness").
    hubness = models.CharField(
        max_length=10,
        choices=[
            ("none", "None (nearest sound)"),
            ("centre", "Centre the library"),
            ("csls", "CSLS over the study's videos"),
            ("assign", "Assign: each sound the top-1 of at most a tenth of the videos"),
        ],
        default="assign",
        help_text="Hubness-aware retrieval (trained models), so that one sound is not the top-1 of "
        "every video: 'assign' chooses all videos' sounds at once, each sound for at most a tenth of "
        "them, at the least total distance; 'csls' pushes back sounds near many of the study's "
        "videos; 'centre' centres the sound library's embeddings on their mean; 'none' takes each "
        "video's nearest sound.",
    )

    class Meta:
        ordering = ["experiment", "order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["experiment", "label"], name="unique_method_label"),
            models.CheckConstraint(
                condition=Q(kind="model", trained_model__isnull=False)
                | (~Q(kind="model") & Q(trained_model__isnull=True)),
                name="model_method_has_trained_model",
            ),
        ]

    def __str__(self):
        return self.label

    @property
    def applied_hubness(self) -> str:
        """The option retrieval applies: a trained model's; random and original rank nothing."""
        return self.hubness if self.kind == self.Kind.MODEL else "none"


class StimulusQuerySet(models.QuerySet):
    def ready(self):
        return self.filter(status=Stimulus.Status.DONE).exclude(file="")

    def not_ready(self):
        return self.exclude(pk__in=self.ready().values("pk"))

    def tests(self):
        return self.filter(role=Stimulus.Role.TEST)


class Stimulus(models.Model):
    """One clip a participant rates: a video with one sound muxed in."""

    class Role(models.TextChoices):
        """What a clip is for; only test clips count in the results."""

        TEST = "test", "Test (counted)"
        GOLD = "gold", "Gold (obviously wrong sound)"
        TRAP = "trap", "Trap (spoken instruction)"
        TRAINING = "training", "Training (not counted)"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    class ControlKind(models.TextChoices):
        # A training clip's soundtrack; they span the scale: best, middling, worst.
        ORIGINAL = "original", "Original soundtrack"
        RANDOM = "random", "Random library sound"
        GOLD = "gold", "Harsh noise"

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="stimuli")
    video = models.ForeignKey(Video, on_delete=models.PROTECT, related_name="stimuli")
    method = models.ForeignKey(
        Method, on_delete=models.CASCADE, related_name="stimuli", null=True, blank=True
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.TEST)
    # Opaque id used in participant URLs and media names: reveals nothing about the method.
    token = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    sound = models.ForeignKey(Sound, on_delete=models.PROTECT, null=True, blank=True, related_name="stimuli")
    distance = models.FloatField(null=True, blank=True, help_text="L2 distance of the sound.")
    rank = models.PositiveIntegerField(null=True, blank=True)
    sound_offset = models.FloatField(
        null=True, blank=True, help_text="Seconds the sound is shifted to align its onset."
    )
    expected_score = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Trap: the score asked for. Gold: the highest passing score."
    )
    label = models.CharField(max_length=200, blank=True, help_text="Researchers only.")
    control_kind = models.CharField(
        max_length=10, choices=ControlKind.choices, blank=True,
        help_text="Training clips: the soundtrack the example has (test clips have a method instead).",
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    file = models.FileField(upload_to=stimulus_upload_to, max_length=300, blank=True)
    duration = models.FloatField(null=True, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Build health (workers.health): the message now responsible for the stimulus, when it was
    # sent, the last sign of life of the task working on it, and how often it was found lost.
    task_id = models.CharField(max_length=64, blank=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    lost = models.PositiveIntegerField(default=0, help_text="Times its task was found lost and re-sent.")
    lost_reason = models.CharField(max_length=300, blank=True)
    # The settings that decided the file when it was built (experiments.provenance.settings_of):
    # a clip whose settings changed since is stale, rebuilt by the next build, and blocks opening.
    built_from = models.JSONField(default=dict, blank=True, editable=False)

    objects = StimulusQuerySet.as_manager()

    class Meta:
        ordering = ["experiment", "video", "method"]
        verbose_name_plural = "stimuli"
        constraints = [
            models.UniqueConstraint(
                fields=["experiment", "video", "method"],
                condition=Q(role="test"),
                name="one_test_stimulus_per_video_and_method",
            ),
        ]

    def __str__(self):
        return f"{self.experiment} / {self.video} / {self.method or self.role}"
