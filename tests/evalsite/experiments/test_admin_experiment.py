"""The experiment admin: method and design checks, build/open/close refusals, staff-only pages."""

import pytest
from django.urls import reverse

from evalsite.experiments.models import Experiment, Method, Video
from retrieval.models import TrainedModel

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client, researcher):
    client.force_login(researcher)
    return client


def experiment_data(methods=(), **overrides):
    data = {
        "title": "Pilot", "slug": "pilot", "instructions": "", "mux_mode": "replace", "overlay_gain_db": 0,
        "duck_db": -12, "loudness_lufs": -23, "design": "full", "clips_per_participant": "", "gold_clips": 1,
        "trap_clips": 1, "training_clips": 3, "participants_wanted": 20, "completion_code": "C0DE",
        "redirect_url": "", "seed": 7, "screen_audio_check": "on", "screen_max_gold_failures": 0,
        "screen_max_trap_failures": 0, "screen_min_score_sd": 0.25, "screen_max_unplayed": 0,
        "methods-TOTAL_FORMS": len(methods), "methods-INITIAL_FORMS": 0,
        "methods-MIN_NUM_FORMS": 0, "methods-MAX_NUM_FORMS": 1000,
    }  # fmt: skip
    for i, (kind, model, label) in enumerate(methods):
        data |= {
            f"methods-{i}-kind": kind,
            f"methods-{i}-trained_model": model.pk if model else "",
            f"methods-{i}-label": label,
            f"methods-{i}-order": i,
        }
    return data | overrides


def messages_of(response):
    return [str(m) for m in response.context["messages"]]


def all_errors(response):
    admin_form = response.context["adminform"].form
    found = [m for ms in admin_form.errors.values() for m in ms] + list(admin_form.non_field_errors())
    for formset in response.context["inline_admin_formsets"]:
        found += [m for form_errors in formset.formset.errors for ms in form_errors.values() for m in ms]
    return found


def test_it_creates_an_experiment_with_its_methods(staff):
    model = TrainedModel.objects.create(name="prop", variant="proposed", checkpoint="/m.pt")
    video = Video.objects.create(name="v", file="videos/v.mp4", has_audio=True)
    data = experiment_data(
        [("model", model, "proposed"), ("random", None, "random"), ("original", None, "original")],
        videos=[video.pk],
    )
    response = staff.post("/admin/experiments/experiment/add/", data)
    assert response.status_code == 302, all_errors(response)
    experiment = Experiment.objects.get()
    assert [m.label for m in experiment.methods.all()] == ["proposed", "random", "original"]
    # the hubness option left out: the default for the model, nothing applied to the others
    assert [m.hubness for m in experiment.methods.all()][0] == "assign"
    assert [m.applied_hubness for m in experiment.methods.all()] == ["assign", "none", "none"]
    assert experiment.seed == 7 and experiment.completion_code == "C0DE" and experiment.status == "draft"
    assert experiment.headphone_check is False  # off unless asked for


def test_it_offers_the_headphone_check_beside_the_audio_check(staff):
    page = staff.get("/admin/experiments/experiment/add/")
    assert 'name="headphone_check"' in page.text
    response = staff.post("/admin/experiments/experiment/add/", experiment_data(headphone_check="on"))
    assert response.status_code == 302, all_errors(response)
    assert Experiment.objects.get().headphone_check is True


@pytest.mark.parametrize(
    ("methods", "overrides", "message"),
    [
        ([("model", None, "mine")], {}, "A 'Trained model' method needs a trained model."),
        ([("random", "MODEL", "rnd")], {}, "A 'random' method takes no trained model; leave it empty."),
        ([], {"clips_per_participant": 3}, "Only the balanced design takes a number of clips."),
        ([], {"design": "balanced", "clips_per_participant": 0}, "Must be at least 1"),
        ([], {"design": "balanced", "clips_per_participant": 2}, "2 clips but only 0 videos"),
        ([], {"redirect_url": "not a url"}, "Enter a valid URL."),
        ([], {"gold_clips": -1}, "Ensure this value is greater than or equal to 0."),
        ([], {"slug": "has spaces"}, "Enter a valid “slug”"),
        ([("model", "MODEL", "m")], {"methods-0-hubness": "cslss"}, "Select a valid choice. cslss"),
    ],
)
def test_it_refuses_an_inconsistent_experiment_and_stores_nothing(staff, methods, overrides, message):
    model = TrainedModel.objects.create(name="prop", variant="proposed", checkpoint="/m.pt")
    methods = [(kind, model if m == "MODEL" else m, label) for kind, m, label in methods]
    response = staff.post("/admin/experiments/experiment/add/", experiment_data(methods, **overrides))
    assert response.status_code == 200
    assert any(message in e for e in all_errors(response)), all_errors(response)
    assert not Experiment.objects.exists() and not Method.objects.exists()


def test_it_refuses_to_open_an_experiment_with_unbuilt_stimuli(staff, make_experiment):
    experiment = make_experiment(built=False)
    response = staff.post(reverse("admin:experiments_experiment_open", args=[experiment.pk]), follow=True)
    assert messages_of(response) == [
        "Refused: 8 of 8 stimuli of 'Study study' are not built: clip0 / proposed (pending); "
        "clip0 / random (pending); clip0 / original (pending); clip1 / proposed (pending); "
        "clip1 / random (pending); and 3 more"
    ]
    # Which clip failed and why, by its video's name.
    experiment.stimuli.update(status="done", file="stimuli/x.mp4")
    experiment.stimuli.filter(video__name="clip1", method__label="random").update(
        status="failed", error="random / video 'clip1': videos/clip1.mp4: cannot decode video"
    )
    response = staff.post(reverse("admin:experiments_experiment_open", args=[experiment.pk]), follow=True)
    assert (
        "Refused: 1 of 8 stimuli of 'Study study' are not built: clip1 / random (failed: random / video "
        "'clip1': videos/clip1.mp4: cannot decode video)"
    ) in messages_of(response)
    experiment.refresh_from_db()
    assert experiment.status == "draft" and experiment.opened_at is None


def test_it_refuses_to_open_when_a_video_method_pair_has_no_stimulus(staff, make_experiment):
    experiment = make_experiment()
    experiment.stimuli.filter(role="test").first().delete()
    response = staff.post(reverse("admin:experiments_experiment_open", args=[experiment.pk]), follow=True)
    assert "Refused: 1 video x method combinations have no test stimulus" in messages_of(response)
    assert Experiment.objects.get().status == "draft"


def test_it_opens_and_closes_a_built_experiment(staff, make_experiment):
    experiment = make_experiment()
    url = reverse("admin:experiments_experiment_change", args=[experiment.pk])
    page = staff.get(url)
    labels = [label for _, label in page.context["experiment_buttons"]]
    assert labels == ["Build stimuli", "Resume build", "Open"]
    link = '<a id="entry-link" href="/s/study/"><code>http://testserver/s/study/</code></a>'
    assert link in page.content.decode()
    staff.post(reverse("admin:experiments_experiment_open", args=[experiment.pk]))
    experiment.refresh_from_db()
    assert experiment.status == "open" and experiment.opened_at is not None
    assert [label for _, label in staff.get(url).context["experiment_buttons"]] == ["Close"]
    again = staff.post(reverse("admin:experiments_experiment_open", args=[experiment.pk]), follow=True)
    assert "Refused: 'Study study' is already open" in messages_of(again)
    staff.post(reverse("admin:experiments_experiment_close", args=[experiment.pk]))
    experiment.refresh_from_db()
    assert experiment.status == "closed" and experiment.closed_at is not None
    twice = staff.post(reverse("admin:experiments_experiment_close", args=[experiment.pk]), follow=True)
    assert "Refused: 'Study study' is not open" in messages_of(twice)


def test_it_refuses_to_build_without_videos_methods_or_library_and_when_not_a_draft(staff):
    experiment = Experiment.objects.create(title="Empty", slug="empty")
    Method.objects.create(experiment=experiment, kind="random", label="random")
    response = staff.post(
        "/admin/experiments/experiment/",
        {"action": "build_action", "_selected_action": [experiment.pk]},
        follow=True,
    )
    assert messages_of(response) == [
        "Refused: 'Empty' has no videos",
        "Refused: 'Empty' needs a sound library with sounds",
    ]
    Experiment.objects.filter(pk=experiment.pk).update(status="closed")
    response = staff.post(reverse("admin:experiments_experiment_build", args=[experiment.pk]), follow=True)
    assert "Refused: 'Empty' is closed: only a draft can be built" in messages_of(response)
    assert not experiment.stimuli.exists()


def test_it_refuses_a_get_on_an_action_button(staff, make_experiment):
    experiment = make_experiment()
    assert staff.get(reverse("admin:experiments_experiment_open", args=[experiment.pk])).status_code == 405
    assert Experiment.objects.get().status == "draft"


def test_it_freezes_methods_and_design_of_an_open_experiment(staff, make_experiment):
    experiment = make_experiment()
    staff.post(reverse("admin:experiments_experiment_open", args=[experiment.pk]))
    data = experiment_data(
        title="Renamed", slug="study", seed=99, videos=[v.pk for v in experiment.videos.all()]
    )
    data["sound_library"] = experiment.sound_library_id
    response = staff.post(reverse("admin:experiments_experiment_change", args=[experiment.pk]), data)
    assert any("close it before changing" in e and "seed" in e for e in all_errors(response))
    experiment.refresh_from_db()
    assert experiment.seed == 0 and experiment.title == "Study study"


def test_it_previews_every_stimulus_with_a_player(staff, make_experiment):
    experiment = make_experiment(methods=("proposed", "random"))
    page = staff.get(reverse("admin:experiments_experiment_preview", args=[experiment.pk]))
    html = page.content.decode()
    assert html.count("<video") == experiment.stimuli.count() == 6
    assert "trap" in html and "gold" in html
    stimulus = experiment.stimuli.first()
    media = staff.get(reverse("experiments:stimulus_media", args=[stimulus.token]))
    assert media.status_code == 200 and b"".join(media.streaming_content) == stimulus.file.read()


@pytest.mark.parametrize(
    "name",
    ["results", "export_csv", "export_manifest", "progress", "preview", "open", "change", "stimulus_media"],
)
def test_it_refuses_researcher_pages_to_an_outsider(client, outsider, make_experiment, name):
    experiment = make_experiment()
    client.force_login(outsider)
    if name == "stimulus_media":
        url = reverse("experiments:stimulus_media", args=[experiment.stimuli.first().token])
    elif name in ("preview", "open", "change"):
        url = reverse(f"admin:experiments_experiment_{name}", args=[experiment.pk])
    else:
        url = reverse(f"experiments:{name}", args=[experiment.pk])
    for response in (client.get(url), client.post(url)):
        assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert Experiment.objects.get().status == "draft"


def test_it_opens_what_it_can_from_the_list_and_says_why_not_for_the_rest(staff, make_experiment):
    ready = make_experiment(slug="ready")
    unbuilt = make_experiment(slug="unbuilt", built=False)
    response = staff.post(
        "/admin/experiments/experiment/",
        {"action": "open_action", "_selected_action": [ready.pk, unbuilt.pk]},
        follow=True,
    )
    ok, refused = sorted(messages_of(response))
    assert ok == "'Study ready' is open."
    assert refused.startswith("Refused: 8 of 8 stimuli of 'Study unbuilt' are not built: clip0 / proposed")
    assert dict(Experiment.objects.values_list("slug", "status")) == {"ready": "open", "unbuilt": "draft"}


def test_it_answers_404_for_an_unbuilt_stimulus_or_an_unknown_experiment(staff, make_experiment):
    experiment = make_experiment(built=False)
    token = experiment.stimuli.first().token
    assert staff.get(reverse("experiments:stimulus_media", args=[token])).status_code == 404
    assert staff.get(reverse("experiments:progress", args=[999])).status_code == 404
    assert staff.post(reverse("admin:experiments_experiment_open", args=[999])).status_code == 404


def test_a_stimulus_page_shows_what_it_was_built_from_and_its_duration_in_seconds(staff, make_experiment):
    experiment = make_experiment()
    stimulus = experiment.stimuli.get(video__name="clip0", method__label="random")
    stimulus.duration = 7.6 - 1e-15
    stimulus.save(update_fields=["duration"])
    page = staff.get(reverse("admin:experiments_stimulus_change", args=[stimulus.pk])).content.decode()
    assert "7.60 s" in page and "7.599999" not in page
    assert "&quot;seed&quot;: 0" in page and "&quot;draw&quot;: &quot;random&quot;" in page
