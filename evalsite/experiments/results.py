"""The results pipeline: screening records, kept ratings, per-attribute statistics, the model relation.

Reads the ratings of an experiment once, screens its participants (`screening`), and turns the kept
test ratings into each attribute's MOS, tests and chart (`stats`) and their relation to the
retrieval model's own figures; the results page, the exports and the stopping rule read it.
"""

from collections import defaultdict
from dataclasses import dataclass, field

from scipy import stats as sps

from evalsite.rating.models import Participant, Rating

from . import attributes, screening, stats
from .models import Experiment, Method, Sound, Stimulus


def rules_for(experiment: Experiment) -> screening.Rules:
    return screening.Rules(
        audio_check=experiment.screen_audio_check,
        headphone_check=experiment.headphone_check,
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
    participants = list(experiment.participants.all())
    rated: dict[int, list[screening.RatingRecord]] = {p.pk: [] for p in participants}
    for rating in ratings:
        stimulus = rating.assignment.stimulus
        rated[rating.assignment.participant_id].append(
            screening.RatingRecord(stimulus.role, rating.score, stimulus.expected_score, was_played(rating))
        )
    return [
        screening.ParticipantRecord(p.pk, p.audio_check_passed, rated[p.pk], p.headphone_check_passed)
        for p in participants
    ]


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
    excluded: list[tuple[Participant, list[str]]]  # (participant who rated, reasons)
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
    scores: dict[str, list[int]] = {method.label: [] for method in experiment.methods.all()}
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
    methods, ks = _method_figures(experiment, summaries)
    paired = [(m["acc_rank"], m["mos"]) for m in methods if None not in (m["acc_rank"], m["mos"])]
    rho = None
    if len(paired) >= 2 and len({a for a, _ in paired}) > 1 and len({b for _, b in paired}) > 1:
        rho = float(sps.spearmanr(*zip(*paired, strict=True)).statistic)
    return {
        "methods": methods,
        "recall_k": [f"R@{k}" for k in ks],
        "mos_vs_acc_rank": {"n": len(paired), "rho": rho},
        "distance_vs_rating": _distance_vs_rating(kept),
    }


def _method_figures(experiment: Experiment, summaries: list[stats.Summary]) -> tuple[list[dict], list[int]]:
    """Per method its MOS, ACC_rank and R@K for every K some model reports; and those Ks."""
    mos = {s.label: s.mos for s in summaries}
    figures = [(m, *objective_figures(m)) for m in experiment.methods.select_related("trained_model")]
    ks = sorted({k for _, _, recall in figures for k in recall})
    library_id = experiment.sound_library_id
    library = Sound.objects.filter(library_id=library_id).count() if library_id else 0
    methods = []
    for method, acc, recall in figures:
        if method.kind == Method.Kind.RANDOM and library:
            from retrieval.metrics import random_scores  # imports torch: only when needed

            # A random ordering of the library: R@K = K / N (retrieval.metrics.random_scores).
            expected = random_scores(library, ks)
            recall = {k: expected[f"r@{k}"] for k in ks}
        recall_at = [{"k": k, "value": recall.get(k)} for k in ks]
        methods.append({"label": method.label, "kind": method.kind, "mos": mos.get(method.label),
                        "acc_rank": acc, "recall_at": recall_at})  # fmt: skip
    return methods, ks


def _distance_vs_rating(kept) -> list[dict]:
    """Per model method: each test clip's retrieval distance and rank against its mean rating."""
    per_clip: defaultdict[Stimulus, list[int]] = defaultdict(list)
    for rating in kept:
        per_clip[rating.assignment.stimulus].append(rating.score)
    clips: defaultdict[str, list[dict]] = defaultdict(list)
    for stimulus, scores in per_clip.items():
        method = stimulus.method
        if method is not None and method.kind == Method.Kind.MODEL and stimulus.distance is not None:
            clips[method.label].append(
                {"stimulus": str(stimulus.token), "video": stimulus.video.name, "distance": stimulus.distance,
                 "rank": stimulus.rank, "n": len(scores), "mean_rating": sum(scores) / len(scores)}
            )  # fmt: skip
    per_method = []
    for label, rows in clips.items():
        c = stats.spearman([r["distance"] for r in rows], [r["mean_rating"] for r in rows])
        per_method.append({"label": label, "clips": len(rows), "rho": c.rho, "ci_low": c.low,
                           "ci_high": c.high, "p": c.p,
                           "rows": sorted(rows, key=lambda r: r["distance"])})  # fmt: skip
    return per_method


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
