"""What the researcher's buttons do: build, open, close; and the data behind results and exports.

Each action checks first and changes nothing when it refuses (raising `ActionRefused` with the
reasons), so views and admin actions only have to show the message.
"""

import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from . import screening, stats
from .models import Experiment, Method, Stimulus


class ActionRefused(Exception):
    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


# --- build ----------------------------------------------------------------------------------


def build_problems(experiment: Experiment) -> list[str]:
    problems = []
    if experiment.status != Experiment.Status.DRAFT:
        problems.append(
            f"'{experiment}' is {experiment.get_status_display().lower()}: only a draft can be built"
        )
    if not experiment.videos.exists():
        problems.append(f"'{experiment}' has no videos")
    methods = list(experiment.methods.all())
    if not methods:
        problems.append(f"'{experiment}' has no methods")
    for method in methods:
        if method.kind == Method.Kind.MODEL and method.trained_model_id is None:
            problems.append(f"method '{method}' is a trained-model method without a trained model")
    # Model and random methods draw from the library, and so do the training clips (one is random).
    needs_library = any(m.kind != Method.Kind.ORIGINAL for m in methods) or experiment.training_clips > 0
    if needs_library and (experiment.sound_library is None or not experiment.sound_library.sounds.exists()):
        problems.append(f"'{experiment}' needs a sound library with sounds")
    return problems


def start_build(experiment: Experiment) -> str:
    """Starts building the stimuli without blocking the caller; returns a line for the researcher."""
    from workers import build

    problems = build_problems(experiment)
    if problems:
        raise ActionRefused(problems)
    pk = experiment.pk
    transaction.on_commit(lambda: build.start_build(pk, detached=True))
    return f"Building '{experiment}' {build.describe_mode(pk, detached=True)}."


def build_progress(experiment: Experiment) -> dict:
    from workers.build import build_progress as progress

    return progress(experiment)


# --- open / close ---------------------------------------------------------------------------


def open_problems(experiment: Experiment) -> list[str]:
    problems = []
    if experiment.status == Experiment.Status.OPEN:
        problems.append(f"'{experiment}' is already open")
    stimuli = experiment.stimuli.all()
    not_ready = stimuli.not_ready().count()
    if not stimuli.exists():
        problems.append(f"'{experiment}' has no stimuli yet: build them first")
    elif not_ready:
        problems.append(f"{not_ready} of {stimuli.count()} stimuli of '{experiment}' are not built")
    missing = _missing_test_stimuli(experiment)
    if missing and stimuli.exists():
        problems.append(f"{missing} video x method combinations have no test stimulus")
    for role, wanted in (
        (Stimulus.Role.GOLD, experiment.gold_clips),
        (Stimulus.Role.TRAP, experiment.trap_clips),
        (Stimulus.Role.TRAINING, experiment.training_clips),
    ):
        if wanted and stimuli.exists() and not stimuli.filter(role=role).exists():
            problems.append(f"'{experiment}' asks for {role} clips but has none")
    return problems


def _missing_test_stimuli(experiment: Experiment) -> int:
    wanted = experiment.videos.count() * experiment.methods.count()
    have = experiment.stimuli.tests().values("video", "method").distinct().count()
    return max(0, wanted - have)


def open_experiment(experiment: Experiment) -> None:
    problems = open_problems(experiment)
    if problems:
        raise ActionRefused(problems)
    _transition(
        experiment, [Experiment.Status.DRAFT, Experiment.Status.CLOSED], Experiment.Status.OPEN, "opened_at"
    )


def close_experiment(experiment: Experiment) -> None:
    if experiment.status != Experiment.Status.OPEN:
        raise ActionRefused([f"'{experiment}' is not open"])
    _transition(experiment, [Experiment.Status.OPEN], Experiment.Status.CLOSED, "closed_at")


def _transition(experiment, sources, target, stamp):
    # Conditional update: two researchers clicking at once cannot both win.
    now = timezone.now()
    changed = Experiment.objects.filter(pk=experiment.pk, status__in=sources).update(
        status=target, **{stamp: now}
    )
    if not changed:
        raise ActionRefused([f"'{experiment}' changed meanwhile; reload the page"])
    experiment.status = target
    setattr(experiment, stamp, now)


# --- results --------------------------------------------------------------------------------


def rules_for(experiment: Experiment) -> screening.Rules:
    return screening.Rules(
        audio_check=experiment.screen_audio_check,
        max_gold_failures=experiment.screen_max_gold_failures,
        max_trap_failures=experiment.screen_max_trap_failures,
        min_score_sd=experiment.screen_min_score_sd,
        max_unplayed=experiment.screen_max_unplayed,
    )


def rating_rows(experiment: Experiment):
    from evalsite.rating.models import Rating

    return (
        Rating.objects.filter(assignment__participant__experiment=experiment)
        .select_related(
            "assignment__participant",
            "assignment__stimulus__video",
            "assignment__stimulus__method",
            "assignment__stimulus__sound",
        )
        .order_by("assignment__participant_id", "assignment__position")
    )


def was_played(rating) -> bool:
    """Played to its end before it was rated, by the client's word and by the server's clock
    (a rating sent sooner after playback began than the clip lasts is flagged `too_fast`)."""
    played_at = rating.assignment.played_to_end_at
    return bool(rating.played_to_end and not rating.too_fast and played_at is not None
                and played_at <= rating.created_at)


def screening_records(experiment: Experiment, ratings) -> list[screening.ParticipantRecord]:
    records = {
        p.pk: screening.ParticipantRecord(p.pk, p.audio_check_passed, [])
        for p in experiment.participants.all()
    }
    for rating in ratings:
        stimulus = rating.assignment.stimulus
        records[rating.assignment.participant_id].ratings.append(
            screening.RatingRecord(stimulus.role, rating.score, stimulus.expected_score, was_played(rating))
        )
    return list(records.values())


@dataclass
class Results:
    experiment: Experiment
    summaries: list[stats.Summary]
    comparisons: list[stats.Comparison]
    excluded: list[tuple[object, list[str]]]  # (participant, reasons)
    participants: int
    kept: int
    chart_svg: str = ""
    scores: dict = field(default_factory=dict)


def collect_results(experiment: Experiment, chart: bool = True) -> Results:
    ratings = list(rating_rows(experiment))
    verdicts = screening.screen(screening_records(experiment, ratings), rules_for(experiment))
    scores = {method.label: [] for method in experiment.methods.all()}
    for rating in ratings:
        stimulus = rating.assignment.stimulus
        if (
            stimulus.role == Stimulus.Role.TEST
            and stimulus.method
            and not verdicts[rating.assignment.participant_id]
        ):
            scores[stimulus.method.label].append(rating.score)
    summaries = [stats.summarize(label, values) for label, values in scores.items()]
    comparisons = stats.compare_all(scores)
    participants = {p.pk: p for p in experiment.participants.all()}
    excluded = [(participants[pk], why) for pk, why in verdicts.items() if why]
    results = Results(
        experiment,
        summaries,
        comparisons,
        excluded,
        len(verdicts),
        len(verdicts) - len(excluded),
        scores=scores,
    )
    if chart and any(s.n for s in summaries):
        results.chart_svg = stats.mos_chart_svg(summaries, comparisons)
    return results


# --- exports --------------------------------------------------------------------------------

CSV_COLUMNS = [
    "participant",
    "platform",
    "external_id",
    "excluded",
    "exclusion_reasons",
    "position",
    "stimulus",
    "role",
    "video",
    "method",
    "sound",
    "score",
    "expected_score",
    "played_to_end",
    "played_to_end_at",
    "shown_at",
    "rated_at",
    "time_on_page_ms",
    "play_count",
]


def csv_rows(experiment: Experiment):
    ratings = list(rating_rows(experiment))
    verdicts = screening.screen(screening_records(experiment, ratings), rules_for(experiment))
    yield CSV_COLUMNS
    for r in ratings:
        a, s = r.assignment, r.assignment.stimulus
        p = a.participant
        yield [
            p.pk,
            _cell(p.platform),
            _cell(p.external_id),
            int(bool(verdicts[p.pk])),
            _cell(" | ".join(verdicts[p.pk])),
            a.position,
            s.token,
            s.role,
            _cell(s.video.name),
            _cell(s.method.label if s.method else ""),
            _cell(s.sound.name if s.sound else ""),
            r.score,
            s.expected_score if s.expected_score is not None else "",
            int(was_played(r)),
            _iso(a.played_to_end_at),
            _iso(a.shown_at),
            _iso(r.created_at),
            r.time_on_page_ms if r.time_on_page_ms is not None else "",
            a.play_count,
        ]


def _cell(text: str) -> str:
    """A text cell a spreadsheet will not run as a formula (crowd ids come from the entry link).

    Spreadsheets read full-width signs as ASCII ones and skip leading blanks, so the check is on
    the first non-blank character after NFKC normalisation; a cell with a line break is guarded too.
    """
    normal = unicodedata.normalize("NFKC", text)
    if normal.lstrip()[:1] in ("=", "+", "-", "@") or "\n" in normal or "\r" in normal:
        return "'" + text
    return text


def _iso(value):
    return value.isoformat() if value else ""


CONFIG_FIELDS = [
    "title",
    "slug",
    "instructions",
    "status",
    "mux_mode",
    "overlay_gain_db",
    "duck_db",
    "loudness_lufs",
    "design",
    "clips_per_participant",
    "gold_clips",
    "trap_clips",
    "training_clips",
    "participants_wanted",
    "completion_code",
    "redirect_url",
    "seed",
    "screen_audio_check",
    "screen_max_gold_failures",
    "screen_max_trap_failures",
    "screen_min_score_sd",
    "screen_max_unplayed",
]


def manifest(experiment: Experiment) -> dict:
    """Everything needed to rebuild and re-analyse the study: config, models, media, stimuli, lists."""
    library = experiment.sound_library
    return {
        "format": "sfx-eval-manifest/1",
        "generated_at": _iso(timezone.now()),
        "experiment": {"id": experiment.pk, **{name: getattr(experiment, name) for name in CONFIG_FIELDS}},
        "opened_at": _iso(experiment.opened_at),
        "closed_at": _iso(experiment.closed_at),
        "methods": [_method_entry(m) for m in experiment.methods.select_related("trained_model")],
        "videos": [
            {
                "id": v.pk,
                "name": v.name,
                "sha256": v.sha256,
                "duration": v.duration,
                "effect_onset": v.effect_onset,
            }
            for v in experiment.videos.all()
        ],
        "sound_library": None
        if library is None
        else {
            "name": library.name,
            "sounds": list(library.sounds.values("id", "name", "sha256", "sound_class", "duration", "onset")),
        },
        "stimuli": [
            _stimulus_entry(s) for s in experiment.stimuli.select_related("video", "method", "sound")
        ],
        "assignments": _assignment_lists(experiment),
    }


def _method_entry(method: Method) -> dict:
    entry = {"label": method.label, "kind": method.kind, "order": method.order}
    model = method.trained_model
    if model is not None:
        entry["trained_model"] = {
            "name": model.name,
            "variant": model.variant,
            "checkpoint": model.checkpoint,
            "checkpoint_sha256": model.checkpoint_sha256,
            "config": model.config,
            "metrics": model.metrics,
        }
    return entry


def _stimulus_entry(s: Stimulus) -> dict:
    return {
        "token": str(s.token),
        "role": s.role,
        "video": s.video.name,
        "method": s.method.label if s.method else None,
        "sound": s.sound.name if s.sound else None,
        "sound_sha256": s.sound.sha256 if s.sound else None,
        "rank": s.rank,
        "distance": s.distance,
        "sound_offset": s.sound_offset,
        "expected_score": s.expected_score,
        "status": s.status,
        "label": s.label,
    }


def _assignment_lists(experiment: Experiment) -> list[dict]:
    from evalsite.rating.models import Assignment

    lists = defaultdict(list)
    rows = Assignment.objects.filter(participant__experiment=experiment).order_by(
        "participant_id", "position"
    )
    for participant_id, token in rows.values_list("participant_id", "stimulus__token"):
        lists[participant_id].append(str(token))
    return [{"participant": pk, "stimuli": tokens} for pk, tokens in lists.items()]


def stimulus_counts(experiment: Experiment) -> dict:
    return experiment.stimuli.aggregate(
        total=Count("pk"), done=Count("pk", filter=Q(status=Stimulus.Status.DONE))
    )
