"""Adaptive stopping on a real database: looks every K kept participants, decisions, the full study."""

import pytest
from django.urls import reverse
from django.utils import timezone

from evalsite.experiments import actions, results, sequential, stats, stopping
from evalsite.experiments.comparisons import parse_comparisons
from evalsite.experiments.models import Experiment, Look

pytestmark = pytest.mark.django_db
GOOD = {"gold": [1], "trap": [4]}


def finished(rate, experiment, scores, **participant):
    p = rate(experiment, {**GOOD, **scores}, finished_at=timezone.now(), **participant)
    return p, stopping.after_finish(experiment.pk)


def test_it_looks_every_k_kept_participants_and_stops_once_the_comparison_is_decided(make_experiment, rate):
    experiment = make_experiment(
        methods=("proposed", "random"), videos=3, stopping_rule="sequential", look_every=2,
        participants_wanted=8, planned_comparisons="proposed > random",
    )  # fmt: skip
    _, look = finished(rate, experiment, {"proposed": [5, 4, 5], "random": [1, 2, 1]})
    assert look is None  # one kept participant: not due
    # Excluded (failed the trap): not counted towards a look.
    _, look = finished(rate, experiment, {"proposed": [5, 4, 5], "random": [1, 2, 1], "trap": [2]})
    assert look is None
    _, look = finished(rate, experiment, {"proposed": [4, 5, 5], "random": [2, 1, 2]})
    assert (look.number, look.kept, look.information) == (1, 2, 0.25)
    row = look.details["comparisons"]["proposed > random"]
    scores = results.scores_by_method(experiment, stopping.kept_finished(experiment)[0])
    assert scores["proposed"] == [5, 4, 5, 4, 5, 5]
    boundary = sequential.boundaries([0.25], 0.05)[0]
    assert row["boundary"] == pytest.approx(boundary)
    # Six ratings each: p about 0.002, above the first O'Brien-Fleming level of about 0.0001.
    assert row["p"] > row["nominal"] and not row["decided"] and not look.stop
    for _ in range(2):
        _, look = finished(rate, experiment, {"proposed": [5, 5, 4], "random": [1, 2, 2]})
    assert look.number == 2 and look.kept == 4 and look.stop
    assert look.details["comparisons"]["proposed > random"]["decided"]
    experiment.refresh_from_db()
    assert experiment.stopped_at is not None
    assert experiment.stop_reason == "every planned comparison decided: proposed > random"
    assert list(experiment.looks.values_list("number", flat=True)) == [1, 2]
    _, look = finished(rate, experiment, {"proposed": [5, 5, 4], "random": [1, 2, 2]})
    assert look is None and Look.objects.count() == 2  # stopped: no more looks


def test_without_a_difference_it_runs_to_the_maximum_and_says_so(make_experiment, rate):
    experiment = make_experiment(
        methods=("proposed", "random"),
        videos=2,
        stopping_rule="sequential",
        look_every=2,
        participants_wanted=4,
    )
    for i in range(4):
        _, look = finished(rate, experiment, {"proposed": [2 + i % 3, 4], "random": [3, 2 + i % 2]})
    assert look.number == 2 and look.information == 1.0 and look.stop
    assert set(look.details["comparisons"]) == {"proposed > random", "random > proposed"}
    assert not any(row["decided"] for row in look.details["comparisons"].values())
    assert look.reason == "reached the 4 participants wanted; decided: none"


def test_the_precision_rule_stops_when_every_ci_is_narrow_enough(make_experiment, rate):
    experiment = make_experiment(
        methods=("proposed", "random"), videos=3, stopping_rule="precision", look_every=1,
        participants_wanted=50, target_ci_half_width=0.8,
    )  # fmt: skip
    _, look = finished(rate, experiment, {"proposed": [5, 3, 4], "random": [1, 3, 2]})
    assert not look.stop and look.details["half_widths"]["proposed"] == pytest.approx(
        stats.summarize("p", [5, 3, 4]).ci95
    )
    _, look = finished(rate, experiment, {"proposed": [4, 4, 5], "random": [2, 2, 1]})
    widths = look.details["half_widths"]
    assert widths["proposed"] < 0.8 and widths["random"] < 0.8 and look.stop
    assert look.reason == "every method's 95% CI half-width is at most 0.8"


def test_planned_comparisons_name_existing_methods(make_experiment):
    experiment = make_experiment(methods=("proposed", "random"), stopping_rule="sequential", look_every=2)
    with pytest.raises(ValueError, match="no method labelled 'triplet'"):
        parse_comparisons("proposed > triplet", ["proposed", "random"])
    with pytest.raises(ValueError, match="not of the form 'A > B'"):
        parse_comparisons("proposed < random", ["proposed", "random"])
    experiment.planned_comparisons = "proposed > nobody"
    assert actions.open_problems(experiment) == [
        "planned comparisons: 'proposed > nobody': no method labelled 'nobody'"
    ]


def test_the_results_page_and_export_show_each_look(staff, make_experiment, rate):
    experiment = make_experiment(
        methods=("proposed", "random"), videos=3, stopping_rule="sequential", look_every=1,
        participants_wanted=3, planned_comparisons="proposed > random",
    )  # fmt: skip
    for _ in range(2):
        finished(rate, experiment, {"proposed": [5, 4, 5], "random": [1, 2, 1]})
    html = staff.get(reverse("experiments:results", args=[experiment.pk])).content.decode()
    assert 'id="looks"' in html and "proposed &gt; random" in html and "continue" in html
    exported = staff.get(reverse("experiments:export_results", args=[experiment.pk])).json()
    looks = exported["stopping"]["looks"]
    assert [look["kept"] for look in looks] == [1, 2]
    assert looks[1]["details"]["comparisons"]["proposed > random"]["p"] == pytest.approx(
        stats.one_sided_p([5, 4, 5] * 2, [1, 2, 1] * 2)[1]
    )
    change = staff.get(reverse("admin:experiments_experiment_change", args=[experiment.pk])).content.decode()
    assert "Look 2: 2 kept (information 0.67)" in change


def test_the_form_requires_the_settings_of_each_rule(make_experiment):
    from evalsite.experiments.forms import ExperimentForm

    experiment = make_experiment()
    data = {
        "title": "t", "slug": "t", "design": "full", "mux_mode": "replace", "overlay_gain_db": 0,
        "duck_db": -12, "loudness_lufs": -23, "gold_clips": 1, "trap_clips": 1, "training_clips": 0,
        "seed": 0, "participants_wanted": 20, "screen_min_score_sd": 0.25,
    }  # fmt: skip
    form = ExperimentForm({**data, "stopping_rule": "sequential"}, instance=experiment)
    assert not form.is_valid() and "kept participants per look" in str(form.errors["look_every"])
    form = ExperimentForm({**data, "stopping_rule": "precision"}, instance=experiment)
    assert not form.is_valid() and "target CI half-width" in str(form.errors["target_ci_half_width"])
    assert ExperimentForm({**data}, instance=experiment).is_valid()
    assert Experiment.objects.get(pk=experiment.pk).stopping_rule == "none"
