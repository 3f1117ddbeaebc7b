"""Results page and exports: screening applied, only test ratings counted, raw data complete."""

import csv
import io
import json

import numpy as np
import pytest
from django.urls import reverse
from scipy import stats as sps

from evalsite.experiments.results import collect_results

pytestmark = pytest.mark.django_db

GOOD = {"gold": [1], "trap": [4]}


@pytest.fixture
def staff(client, researcher):
    client.force_login(researcher)
    return client


@pytest.fixture
def rated(make_experiment, rate):
    experiment = make_experiment(methods=("proposed", "random"), videos=3, seed=11)
    rate(
        experiment,
        {"proposed": [5, 4, 4], "random": [2, 1, 3], **GOOD},
        external_id="ann",
        platform="prolific",
    )
    rate(
        experiment,
        {"proposed": [4, 5, 3], "random": [2, 2, 1], **GOOD},
        external_id="bob",
        platform="prolific",
    )
    rate(
        experiment, {"proposed": [5, 5, 4], "random": [3, 2, 2], **GOOD}, external_id="cat", platform="mturk"
    )
    # Excluded: failed the trap, and gave the same score everywhere.
    rate(
        experiment, {"proposed": [3, 3, 3], "random": [3, 3, 3], "gold": [1], "trap": [2]}, external_id="dan"
    )
    # Excluded: failed the audio check; rated the gold clip as fine.
    rate(experiment, {"proposed": [1, 2, 1], "random": [5, 4, 5], "gold": [5], "trap": [4]},
         external_id="eve", audio_check_passed=False)  # fmt: skip
    # Excluded: rated without playing the clips.
    rate(experiment, {"proposed": [1, 1, 2], "random": [5, 5, 4], **GOOD}, external_id="fay", played=False)
    return experiment


def test_it_reports_mos_and_tests_over_kept_participants_only(staff, rated):
    response = staff.get(reverse("experiments:results", args=[rated.pk]))
    results = response.context["results"]
    proposed = [5, 4, 4, 4, 5, 3, 5, 5, 4]
    random = [2, 1, 3, 2, 2, 1, 3, 2, 2]
    summary = {s.label: s for s in results.summaries}
    assert summary["proposed"].n == 9 and summary["proposed"].mos == pytest.approx(np.mean(proposed))
    assert summary["random"].sd == pytest.approx(np.std(random, ddof=1))
    comparison = next(c for c in results.comparisons if (c.a, c.b) == ("proposed", "random"))
    assert comparison.p == pytest.approx(sps.mannwhitneyu(proposed, random, alternative="greater").pvalue)
    assert comparison.stars == "**"
    assert (results.participants, results.kept) == (6, 3)
    html = response.content.decode()
    assert '<figure class="chart" id="mos-chart">' in html and "<svg" in html
    assert f"{np.mean(proposed):.2f}" in html


def test_it_tests_the_planned_comparisons_as_the_planner_and_the_stopping_rule_do(staff, rated):
    everything = collect_results(rated, chart=False).comparisons
    assert {(c.a, c.b) for c in everything} == {("proposed", "random"), ("random", "proposed")}
    rated.planned_comparisons = "proposed > random"
    rated.save(update_fields=["planned_comparisons"])
    assert rated.comparison_family() == [("proposed", "random")]
    (planned,) = collect_results(rated, chart=False).comparisons
    assert (planned.a, planned.b) == ("proposed", "random")
    assert planned.p_holm == planned.p  # one comparison: Holm over the family of one
    assert planned.p_holm < next(c.p_holm for c in everything if c.a == "proposed")


def test_it_counts_only_participants_who_rated(staff, rated):
    from evalsite.rating.models import Participant

    # Consented and left before rating anything: one passed the audio check, one failed it.
    Participant.objects.create(experiment=rated, external_id="gus", audio_check_passed=True)
    Participant.objects.create(experiment=rated, external_id="hal", audio_check_passed=False)
    response = staff.get(reverse("experiments:results", args=[rated.pk]))
    results = response.context["results"]
    counts = (results.participants, results.kept, len(results.excluded), results.without_ratings)
    assert counts == (6, 3, 3, 2)
    assert "hal" not in {p.external_id for p, _ in results.excluded}
    text = " ".join(response.content.decode().split())
    assert "Participants who rated: 6 (3 kept, 3 excluded by screening); 2 more consented" in text
    data = staff.get(reverse("experiments:export_results", args=[rated.pk])).json()
    assert (data["participants"], data["kept"], data["without_ratings"]) == (6, 3, 2)


def test_it_shows_which_p_the_chart_stars_and_each_p_value(staff, rated):
    response = staff.get(reverse("experiments:results", args=[rated.pk]))
    html = response.content.decode()
    assert "the pairs significant in the table below by Holm-corrected p" in html
    for c in response.context["results"].comparisons:
        assert f'<td data-label="p (Holm)" class="num">{c.p_holm_text}</td>' in html


def test_it_lists_who_was_excluded_and_why(staff, rated):
    response = staff.get(reverse("experiments:results", args=[rated.pk]))
    excluded = {p.external_id: reasons for p, reasons in response.context["results"].excluded}
    assert excluded == {
        "dan": ["failed 1 trapping clip (limit 0)", "score SD 0.00 below 0.25 (near-constant ratings)"],
        "eve": ["failed the audio check", "failed 1 gold clip (limit 0)"],
        "fay": ["rated 8 clips before playing to the end (limit 0)"],
    }
    assert "failed 1 trapping clip (limit 0); score SD 0.00 below 0.25" in response.content.decode()


def test_it_follows_the_experiments_screening_settings(staff, rated):
    rated.screen_audio_check = False
    rated.screen_max_gold_failures = None
    rated.save()
    results = staff.get(reverse("experiments:results", args=[rated.pk])).context["results"]
    assert {p.external_id for p, _ in results.excluded} == {"dan", "fay"}
    assert {s.label: s.n for s in results.summaries} == {"proposed": 12, "random": 12}


def test_it_shows_an_empty_experiment_without_failing(staff, make_experiment):
    experiment = make_experiment()
    response = staff.get(reverse("experiments:results", args=[experiment.pk]))
    assert response.status_code == 200
    assert "No ratings yet." in response.content.decode()
    assert [s.n for s in response.context["results"].summaries] == [0, 0, 0]


def test_it_exports_every_raw_rating_as_csv(staff, rated):
    response = staff.get(reverse("experiments:export_csv", args=[rated.pk]))
    assert response["Content-Disposition"] == 'attachment; filename="study-ratings.csv"'
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == 6 * 8
    ann = [r for r in rows if r["external_id"] == "ann"]
    assert [r["method"] for r in ann] == ["proposed"] * 3 + ["random"] * 3 + ["", ""]
    assert [r["role"] for r in ann][-2:] == ["gold", "trap"]
    assert [r["score"] for r in ann] == ["5", "4", "4", "2", "1", "3", "1", "4"]
    first = ann[0]
    assert first["video"] == "clip0" and first["sound"] == "bang" and first["time_on_page_ms"] == "15000"
    assert first["played_to_end"] == "1" and first["excluded"] == "0" and first["rated_at"]
    fay = [r for r in rows if r["external_id"] == "fay"]
    assert {r["played_to_end"] for r in fay} == {"0"} and {r["excluded"] for r in fay} == {"1"}


def test_it_exports_a_manifest_that_reproduces_the_study(staff, rated):
    response = staff.get(reverse("experiments:export_manifest", args=[rated.pk]))
    manifest = json.loads(response.content)
    assert manifest["experiment"]["seed"] == 11 and manifest["experiment"]["slug"] == "study"
    assert manifest["methods"][0]["trained_model"]["checkpoint_sha256"] == "ab" * 32
    assert manifest["methods"][0]["hubness"] == "assign"  # a new model method's default
    assert manifest["methods"][1] == {"label": "random", "kind": "random", "order": 1}
    built = rated.stimuli.get(video__name="clip0", method__label="random")
    (entry,) = [s for s in manifest["stimuli"] if s["token"] == str(built.token)]
    assert entry["built_from"] == built.built_from and entry["built_from"]["seed"] == 11
    assert [v["sha256"] for v in manifest["videos"]] == [f"study{i}".ljust(64, "0") for i in range(3)]
    assert len(manifest["stimuli"]) == rated.stimuli.count() == 8
    tokens = {s["token"] for s in manifest["stimuli"]}
    assert len(manifest["assignments"]) == 6
    assert all(len(a["stimuli"]) == 8 and set(a["stimuli"]) <= tokens for a in manifest["assignments"])
    assert manifest["sound_library"]["sounds"][0]["name"] == "bang"


def test_it_answers_404_for_an_unknown_experiment(staff):
    assert staff.get(reverse("experiments:results", args=[999])).status_code == 404
    assert staff.get(reverse("experiments:export_csv", args=[999])).status_code == 404


def test_it_keeps_a_spreadsheet_from_running_a_crowd_id_as_a_formula(staff, make_experiment, rate):
    experiment = make_experiment()
    rate(experiment, {"proposed": [4]}, external_id='=HYPERLINK("http://evil")', platform="@x")
    response = staff.get(reverse("experiments:export_csv", args=[experiment.pk]))
    (row,) = csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode()))
    assert row["external_id"] == '\'=HYPERLINK("http://evil")' and row["platform"] == "'@x"


@pytest.mark.parametrize("crowd_id", [" =1+3", "\u00a0-2", "\uff1d1+4", "\uff0b5", "\n=1+5", "ok\r\n=1"])
def test_it_guards_formulas_behind_blanks_full_width_signs_and_line_breaks(staff, make_experiment, rate,
                                                                          crowd_id):
    experiment = make_experiment()
    rate(experiment, {"proposed": [4]}, external_id=crowd_id)
    response = staff.get(reverse("experiments:export_csv", args=[experiment.pk]))
    (row,) = csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode(), newline=""))
    assert row["external_id"] == "'" + crowd_id


def test_it_leaves_plain_cells_alone(staff, make_experiment, rate):
    experiment = make_experiment()
    rate(experiment, {"proposed": [4]}, external_id="5f1a2b3c4d5e6f7a8b9c0d1e")
    response = staff.get(reverse("experiments:export_csv", args=[experiment.pk]))
    (row,) = csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode()))
    assert row["external_id"] == "5f1a2b3c4d5e6f7a8b9c0d1e"
