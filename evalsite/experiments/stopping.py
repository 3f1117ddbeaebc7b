"""Adaptive stopping of recruitment: takes the looks of `sequential` on an experiment's data.

A look is due every `look_every` kept participants (finished, and kept by screening), and at
`participants_wanted` (the maximum). Group-sequential rule: the planned comparisons are tested
on the suitability ratings of the kept, finished participants (one-sided Mann-Whitney, as on the
results page) against O'Brien-Fleming boundaries at alpha / m each; recruiting stops when all are
decided. Precision rule: it stops when every method's 95% CI half-width is at most the target.
Either way it stops at the maximum. A stopped experiment stays open for those already taking
part, and the participant link tells newcomers that the study is full.
"""

import logging

from django.db import transaction
from django.dispatch import receiver
from django.utils import timezone

from evalsite.rating.signals import participant_finished

from . import results, sequential, stats
from .models import Experiment, Look

ALPHA = 0.05
log = logging.getLogger(__name__)


def kept_finished(experiment: Experiment):
    """Suitability ratings of kept participants who finished, and how many such participants."""
    kept, verdicts = results.kept_test_ratings(experiment)
    finished = set(experiment.participants.finished().values_list("pk", flat=True))
    done = {pk for pk, why in verdicts.items() if not why and pk in finished}
    return [r for r in kept if r.assignment.participant_id in done], len(done)


@receiver(participant_finished, dispatch_uid="experiments.stopping.after_finish")
def _on_participant_finished(sender, experiment_id: int, **kwargs) -> None:
    after_finish(experiment_id)


def after_finish(experiment_id: int) -> Look | None:
    """Called when a participant finishes: takes a look if one is due. Never fails the participant."""
    rules = Experiment.objects.filter(pk=experiment_id, stopped_at__isnull=True)
    if not rules.exclude(stopping_rule=Experiment.StoppingRule.NONE).exists():
        return None  # no rule, or already stopped: nothing to lock or compute
    try:
        return take_look(experiment_id)
    except Exception:  # the participant's completion must not depend on the analysis
        log.exception("look at experiment %s failed", experiment_id)
        return None


def take_look(experiment_id: int, force: bool = False) -> Look | None:
    with transaction.atomic():
        experiment = Experiment.objects.select_for_update().get(pk=experiment_id)
        if experiment.stopping_rule == Experiment.StoppingRule.NONE or experiment.stopped_at is not None:
            return None
        ratings, kept = kept_finished(experiment)
        every = experiment.look_every or experiment.participants_wanted
        wanted = experiment.participants_wanted
        previous = list(experiment.looks.order_by("number"))
        last_kept = previous[-1].kept if previous else 0
        due = kept >= wanted or (kept // every) > (last_kept // every)
        if not (due or force) or kept == 0 or kept == last_kept:
            return None
        fractions = sequential.look_fractions([p.information for p in previous], kept, wanted)
        if len(fractions) == len(previous):
            return None
        scores = results.scores_by_method(experiment, ratings)
        if experiment.stopping_rule == Experiment.StoppingRule.SEQUENTIAL:
            details, stop, reason = _sequential(experiment, previous, fractions, scores)
        else:
            details, stop, reason = _precision(experiment, scores, fractions[-1])
        look = Look.objects.create(
            experiment=experiment,
            number=len(previous) + 1,
            kept=kept,
            information=fractions[-1],
            details=details,
            stop=stop,
            reason=reason,
        )
        if stop:
            Experiment.objects.filter(pk=experiment.pk).update(stopped_at=timezone.now(), stop_reason=reason)
        return look


def _sequential(experiment, previous, fractions, scores):
    pairs = experiment.comparison_family()
    pvalues = {}
    for a, b in pairs:
        x, y = scores.get(a, []), scores.get(b, [])
        pvalues[f"{a} > {b}"] = float(stats.one_sided_p(x, y)[1]) if x and y else None
    decided = {name for look in previous for name, row in look.details.get("comparisons", {}).items()
               if row["decided"]}  # fmt: skip
    rows, stop = sequential.decide(fractions, pvalues, decided, ALPHA, len(pairs))
    done = [name for name, row in rows.items() if row["decided"]]
    if stop and len(done) == len(rows):
        reason = f"every planned comparison decided: {', '.join(done)}"
    elif stop:
        wanted = experiment.participants_wanted
        reason = f"reached the {wanted} participants wanted; decided: {', '.join(done) or 'none'}"
    else:
        reason = ""
    return {"rule": "sequential", "alpha": ALPHA, "comparisons": rows}, stop, reason


def _precision(experiment, scores, fraction):
    target = experiment.target_ci_half_width
    widths = {label: stats.summarize(label, values).ci95 for label, values in scores.items()}
    reached = target is not None and sequential.precision_reached(widths, target)
    if reached:
        reason = f"every method's 95% CI half-width is at most {target:g}"
    elif fraction >= 1.0:
        reason = f"reached the {experiment.participants_wanted} participants wanted"
    else:
        reason = ""
    return {"rule": "precision", "target": target, "half_widths": widths}, bool(reason), reason
