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
from scipy import stats as sps

from evalsite.rating.models import Assignment, Rating
from workers import build

from . import attributes, provenance, screening, stats
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
    from .forms import soundtrack_needed

    needs = soundtrack_needed({m.kind for m in methods}, experiment.mux_mode)
    mute = list(experiment.videos.filter(has_audio=False).values_list("name", flat=True))
    if needs and mute:
        problems.append(f"{needs} needs the videos' own soundtrack; no audio in: {', '.join(mute)}")
    # Model and random methods draw from the library, and so do the training clips (one is random).
    needs_library = any(m.kind != Method.Kind.ORIGINAL for m in methods) or experiment.training_clips > 0
    if needs_library and (experiment.sound_library is None or not experiment.sound_library.sounds.exists()):
        problems.append(f"'{experiment}' needs a sound library with sounds")
    rated = build.orphans(experiment).filter(assignments__isnull=False).select_related("video")
    if rated.exists():
        problems.append(
            "clips of videos no longer in the experiment were shown to participants and cannot be "
            f"removed: {_some(provenance.describe(s) for s in rated)}"
        )
    return problems


def start_build(experiment: Experiment) -> str:
    """Starts building the stimuli without blocking the caller; returns a line for the researcher."""
    problems = build_problems(experiment)
    if problems:
        raise ActionRefused(problems)
    pk = experiment.pk
    line = f"Building '{experiment}' {build.describe_mode(pk, detached=True)}{build_plan(experiment)}."
    transaction.on_commit(lambda: build.start_build(pk, detached=True))  # outside a transaction: now
    return line


def build_plan(experiment: Experiment) -> str:
    """What the build will change, for the line the researcher reads."""
    stale, orphans = len(provenance.stale(experiment)), build.orphans(experiment).count()
    parts = [f"{stale} stale clips rebuilt"] if stale else []
    parts += [f"{orphans} clips of removed videos or controls removed"] if orphans else []
    return f": {', '.join(parts)}" if parts else ""


def resume_build(experiment: Experiment) -> str:
    """Checks the build for lost work now (workers.health) and sends it again; without a broker,
    builds again in the background (finished stimuli are kept)."""
    from workers import build, recovery

    if build.build_mode() != "workers":
        return start_build(experiment)
    unfinished = experiment.stimuli.filter(status__in=[Stimulus.Status.PENDING, Stimulus.Status.RUNNING])
    if not unfinished.exists():
        raise ActionRefused([f"'{experiment}' has nothing left to build"])
    found = recovery.recover(experiment)
    if not found.checked:
        return f"Another process is checking the build of '{experiment}' right now; reload in a moment."
    if found.lost:
        return f"Resumed the build of '{experiment}': {found.line()}."
    return (
        f"Nothing of '{experiment}' is lost: {unfinished.count()} stimuli are running with a live "
        "heartbeat, waiting in the broker, or were sent too recently to judge."
    )


def build_health(experiment: Experiment) -> dict:
    from workers import recovery

    summary = recovery.lost_summary(experiment)
    return {**summary, "line": recovery.summary_line(summary) if summary["lost"] else ""}


def build_progress(experiment: Experiment) -> dict:
    return build.build_progress(experiment)


# --- open / close ---------------------------------------------------------------------------


def open_problems(experiment: Experiment) -> list[str]:
    problems = []
    if experiment.status == Experiment.Status.OPEN:
        problems.append(f"'{experiment}' is already open")
    stimuli = experiment.stimuli.all()
    not_ready = list(stimuli.not_ready().select_related("video", "method").order_by("pk"))
    if not stimuli.exists():
        problems.append(f"'{experiment}' has no stimuli yet: build them first")
    elif not_ready:
        problems.append(
            f"{len(not_ready)} of {stimuli.count()} stimuli of '{experiment}' are not built: "
            + _some(map(_not_built, not_ready))
        )
    if experiment.status == Experiment.Status.DRAFT:  # a closed study's clips are frozen as rated
        problems += freshness_problems(experiment)
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
    problems += stopping_problems(experiment)
    return problems


def _not_built(stimulus: Stimulus) -> str:
    state = stimulus.get_status_display().lower()
    return f"{provenance.describe(stimulus)} ({state}{': ' + stimulus.error if stimulus.error else ''})"


def freshness_problems(experiment: Experiment, max_age: float = 0.0) -> list[str]:
    """Clips that no longer match the experiment's settings (stale) or its videos (orphans);
    `max_age`: how old a library fingerprint may be reused (provenance.library_fingerprint)."""
    problems = []
    stale = provenance.stale(experiment, max_age)
    if stale:
        problems.append(
            f"{len(stale)} clips were built from settings that changed since; build stimuli again to "
            "rebuild them: " + _some(f"{provenance.describe(s)} ({'; '.join(why)})" for s, why in stale)
        )
    orphans = build.orphans(experiment).select_related("video")
    if orphans.exists():
        names = sorted({s.video.name for s in orphans})
        problems.append(
            f"{orphans.count()} clips belong to videos or controls the experiment no longer has "
            f"(videos: {', '.join(names)}); build stimuli again to remove them"
        )
    return problems


def _some(items, shown: int = 5) -> str:
    items = list(items)
    more = f"; and {len(items) - shown} more" if len(items) > shown else ""
    return "; ".join(items[:shown]) + more


def stopping_problems(experiment: Experiment) -> list[str]:
    rule = experiment.stopping_rule
    if rule == Experiment.StoppingRule.NONE:
        return []
    problems = []
    if rule == Experiment.StoppingRule.PRECISION and not experiment.target_ci_half_width:
        problems.append("the precision stopping rule needs a target CI half-width")
    if rule == Experiment.StoppingRule.SEQUENTIAL:
        try:
            experiment.comparison_family()
        except ValueError as exc:
            problems.append(f"planned comparisons: {exc}")
    if experiment.look_every and experiment.look_every > experiment.participants_wanted:
        problems.append(
            f"looks every {experiment.look_every} kept participants but only "
            f"{experiment.participants_wanted} wanted: the rule would never look early"
        )
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
class AttributeResults:
    """MOS, tests and chart of one question asked about the clips."""

    attribute: attributes.Attribute
    summaries: list[stats.Summary]
    comparisons: list[stats.Comparison]
    chart_svg: str = ""
    scores: dict = field(default_factory=dict)


@dataclass
class Results:
    experiment: Experiment
    summaries: list[stats.Summary]
    comparisons: list[stats.Comparison]
    excluded: list[tuple[object, list[str]]]  # (participant who rated, reasons)
    participants: int  # who rated at least one clip
    kept: int
    without_ratings: int = 0  # consented, rated nothing
    chart_svg: str = ""
    scores: dict = field(default_factory=dict)
    # Every attribute asked, the paper's suitability first (its figures are also the fields above).
    attributes: list[AttributeResults] = field(default_factory=list)
    model: dict = field(default_factory=dict)  # ratings against the model, see `model_relation`

    @property
    def extra_attributes(self) -> list[AttributeResults]:
        return self.attributes[1:]


def kept_test_ratings(experiment: Experiment, ratings=None):
    """(ratings of test clips by kept participants, screening verdicts, all ratings)."""
    ratings = list(rating_rows(experiment)) if ratings is None else ratings
    verdicts = screening.screen(screening_records(experiment, ratings), rules_for(experiment))
    kept = [
        r
        for r in ratings
        if r.assignment.stimulus.role == Stimulus.Role.TEST
        and r.assignment.stimulus.method
        and not verdicts[r.assignment.participant_id]
    ]
    return kept, verdicts


def scores_by_method(experiment: Experiment, kept, field_name: str = "score") -> dict[str, list[int]]:
    scores = {method.label: [] for method in experiment.methods.all()}
    for rating in kept:
        value = getattr(rating, field_name)
        if value is not None:
            scores[rating.assignment.stimulus.method.label].append(value)
    return scores


def collect_results(experiment: Experiment, chart: bool = True) -> Results:
    ratings = list(rating_rows(experiment))
    kept, verdicts = kept_test_ratings(experiment, ratings)
    per_attribute = []
    for attribute in attributes.asked(experiment):
        scores = scores_by_method(experiment, kept, attribute.field)
        summaries = [stats.summarize(label, values) for label, values in scores.items()]
        comparisons = stats.compare_all(scores, experiment.comparison_family())
        svg = ""
        if chart and any(s.n for s in summaries):
            svg = stats.mos_chart_svg(summaries, comparisons, ylabel=f"MOS {attribute.name} (95% CI)")
        per_attribute.append(AttributeResults(attribute, summaries, comparisons, svg, scores))
    main = per_attribute[0]
    participants = {p.pk: p for p in experiment.participants.all()}
    # Counted: who rated at least one clip. Who consented and left before rating is only a number.
    raters = {r.assignment.participant_id for r in ratings}
    excluded = [(participants[pk], why) for pk, why in verdicts.items() if why and pk in raters]
    return Results(
        experiment,
        main.summaries,
        main.comparisons,
        excluded,
        len(raters),
        len(raters) - len(excluded),
        without_ratings=len(participants) - len(raters),
        chart_svg=main.chart_svg,
        scores=main.scores,
        attributes=per_attribute,
        model=model_relation(experiment, main.summaries, kept),
    )


def pilot_figures(pilot: Experiment) -> tuple[dict[str, list[int]], float]:
    """A pilot's kept suitability ratings per method label, and the share of its finished
    participants that screening excluded (the planner's assumptions)."""
    kept, verdicts = kept_test_ratings(pilot)
    finished = set(pilot.participants.finished().values_list("pk", flat=True))
    excluded = sum(1 for pk in finished if verdicts.get(pk))
    return scores_by_method(pilot, kept), (excluded / len(finished) if finished else 0.0)


def model_relation(experiment: Experiment, summaries: list[stats.Summary], kept) -> dict:
    """Ratings against the retrieval model.

    Per method: its MOS next to the objective figures of its TrainedModel (ACC_rank and R@K of
    the model's validation metrics, as `train` registered them; a random method has the known
    expectations ACC_rank 0.5 and R@K = K / N over the experiment's sound library), and
    Spearman's rho between MOS and ACC_rank across the methods that have both. Per clip: each
    test stimulus's retrieval distance and rank against its mean rating, with Spearman's rho
    and its Fisher-z CI per method (`stats.spearman`).
    """
    mos = {s.label: s.mos for s in summaries}
    methods = []
    for method in experiment.methods.select_related("trained_model"):
        acc, recall = objective_figures(method)
        methods.append({"label": method.label, "kind": method.kind, "mos": mos.get(method.label),
                        "acc_rank": acc, "recall": recall})  # fmt: skip
    ks = sorted({k for m in methods for k in m["recall"]})
    library = experiment.sound_library.sounds.count() if experiment.sound_library_id else 0
    for m in methods:
        recall = m.pop("recall")
        if m["kind"] == Method.Kind.RANDOM and library:
            from retrieval.metrics import random_scores  # imports torch: only when needed

            # A random ordering of the library: R@K = K / N (retrieval.metrics.random_scores).
            expected = random_scores(library, ks)
            recall = {k: expected[f"r@{k}"] for k in ks}
        m["recall_at"] = [{"k": k, "value": recall.get(k)} for k in ks]
    paired = [(m["acc_rank"], m["mos"]) for m in methods if None not in (m["acc_rank"], m["mos"])]
    rho = None
    if len(paired) >= 2 and len({a for a, _ in paired}) > 1 and len({b for _, b in paired}) > 1:
        rho = float(sps.spearmanr(*zip(*paired, strict=True)).statistic)
    per_clip = defaultdict(list)
    for rating in kept:
        per_clip[rating.assignment.stimulus].append(rating.score)
    clips = defaultdict(list)
    for stimulus, scores in per_clip.items():
        if stimulus.method.kind == Method.Kind.MODEL and stimulus.distance is not None:
            clips[stimulus.method.label].append(
                {"stimulus": str(stimulus.token), "video": stimulus.video.name, "distance": stimulus.distance,
                 "rank": stimulus.rank, "n": len(scores), "mean_rating": sum(scores) / len(scores)}
            )  # fmt: skip
    per_method = []
    for label, rows in clips.items():
        c = stats.spearman([r["distance"] for r in rows], [r["mean_rating"] for r in rows])
        per_method.append({"label": label, "clips": len(rows), "rho": c.rho, "ci_low": c.low,
                           "ci_high": c.high, "p": c.p,
                           "rows": sorted(rows, key=lambda r: r["distance"])})  # fmt: skip
    return {
        "methods": methods,
        "recall_k": [f"R@{k}" for k in ks],
        "mos_vs_acc_rank": {"n": len(paired), "rho": rho},
        "distance_vs_rating": per_method,
    }


def objective_figures(method: Method) -> tuple[float | None, dict[int, float]]:
    """(ACC_rank, {K: R@K}) of a method's model (validation metrics); Random: its expectation."""
    model = method.trained_model
    if model is None:
        return (0.5 if method.kind == Method.Kind.RANDOM else None), {}
    metrics = model.metrics.get("valid", model.metrics) if isinstance(model.metrics, dict) else {}
    if not isinstance(metrics, dict):
        return None, {}
    acc = metrics.get("acc_rank")
    recall = {
        int(key[2:]): float(value)
        for key, value in metrics.items()
        if key.startswith("r@") and key[2:].isdigit() and isinstance(value, int | float)
    }
    return (float(acc) if isinstance(acc, int | float) else None), recall


def results_json(experiment: Experiment) -> dict:
    """The analysis of the results page as data: every attribute, the model relation, the looks."""
    results = collect_results(experiment, chart=False)
    return {
        "format": "sfx-eval-results/1",
        "generated_at": _iso(timezone.now()),
        "experiment": {"id": experiment.pk, "slug": experiment.slug, "title": experiment.title},
        "participants": results.participants,
        "kept": results.kept,
        "without_ratings": results.without_ratings,
        "attributes": [
            {
                "field": a.attribute.field,
                "name": a.attribute.name,
                "question": a.attribute.question,
                "methods": [
                    {"label": s.label, "n": s.n, "mos": s.mos, "sd": s.sd, "ci95": s.ci95}
                    for s in a.summaries
                ],
                "comparisons": [
                    {"a": c.a, "b": c.b, "u": c.u, "p": c.p, "p_holm": c.p_holm,
                     "rank_biserial": c.rank_biserial, "common_language": c.common_language}
                    for c in a.comparisons
                ],  # fmt: skip
            }
            for a in results.attributes
        ],
        "model": results.model,
        "stopping": {
            "rule": experiment.stopping_rule,
            "stopped_at": _iso(experiment.stopped_at),
            "reason": experiment.stop_reason,
            "looks": [
                {"number": look.number, "kept": look.kept, "information": look.information,
                 "stop": look.stop, "reason": look.reason, "details": look.details,
                 "at": _iso(look.created_at)}
                for look in experiment.looks.all()
            ],  # fmt: skip
        },
    }


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
    "quality",
    "sync",
    "completion_code",  # the participant's own, given at the finish
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
            *(getattr(r, attribute.field) or "" for attribute in attributes.OPTIONAL),
            p.completion_code,
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
    "ask_quality",
    "ask_sync",
    "stopping_rule",
    "look_every",
    "planned_comparisons",
    "target_ci_half_width",
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
            "fingerprint": provenance.library_fingerprint(library),
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
        entry["hubness"] = method.hubness  # how its top-1 sounds were chosen (retrieval/hubness.py)
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
        "video_sha256": s.video.sha256,
        "method": s.method.label if s.method else None,
        "control_kind": s.control_kind,
        "sound": s.sound.name if s.sound else None,
        "sound_sha256": s.sound.sha256 if s.sound else None,
        "rank": s.rank,
        "distance": s.distance,
        "sound_offset": s.sound_offset,
        "expected_score": s.expected_score,
        "status": s.status,
        "label": s.label,
        "built_from": s.built_from,  # the settings that decided the clip (experiments.provenance)
    }


def _assignment_lists(experiment: Experiment) -> list[dict]:
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
