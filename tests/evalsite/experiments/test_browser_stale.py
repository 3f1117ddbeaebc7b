"""A researcher in headless Chromium changes a built draft (its seed, its videos) and builds again,
on a real worker: Open refuses while a clip is stale or orphaned, naming it and why; one build
brings every clip in line; History lists the build, open and close; the Stimuli list filters by
method and video; durations read as seconds; the participant link is a link."""

import pytest

from tests.evalsite.experiments.test_browser_researcher import login, wait_built

pytestmark = [pytest.mark.browser, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


def test_a_changed_draft_is_refused_until_one_build_brings_every_clip_in_line(
    live_server, new_page, researcher, make_experiment, start_worker, media_root, settings
):
    from playwright.sync_api import expect

    from evalsite.experiments import provenance
    from evalsite.experiments.models import Experiment

    experiment = make_experiment(methods=("random", "original"), videos=3, built=False, trap_clips=0)
    experiment.stimuli.all().delete()  # the build makes them
    experiment.videos.filter(name="clip0").update(duration=7.6 - 1e-15)
    settings.BUILD_DISPATCH_GRACE_S = 0
    start_worker("default,media", env={"MEDIA_ROOT": str(media_root)})
    page = new_page(viewport={"width": 1280, "height": 900})
    base = live_server.url
    login(page, base)
    change = f"{base}/admin/experiments/experiment/{experiment.pk}/change/"
    page.goto(change)
    message = page.locator("ul.messagelist")

    page.get_by_role("button", name="Build stimuli").click()
    expect(message).to_contain_text("Building 'Study study' on the workers.")
    wait_built(experiment)
    assert set(experiment.stimuli.values_list("status", flat=True)) == {"done"}

    # A new seed: the Random clips and the gold noise no longer match; Open says which and why.
    page.goto(change)
    page.fill("#id_seed", "5")
    page.get_by_role("button", name="Save and continue editing").click()
    expect(message).to_contain_text("was changed successfully")
    # The change page says so at once, under the build progress.
    expect(page.locator("#build-freshness")).to_contain_text("clip0 / random (seed 0 → 5)")
    page.get_by_role("button", name="Open", exact=True).click()
    expect(message).to_contain_text("clips were built from settings that changed since")
    expect(message).to_contain_text("clip0 / random (seed 0 → 5)")
    assert Experiment.objects.get(pk=experiment.pk).status == "draft"

    # A video taken out of the study: its clips block opening too.
    page.select_option("#id_videos_to", label="clip2 (7.0 s, 64x48, audio)")
    page.click("#id_videos_remove")
    page.get_by_role("button", name="Save and continue editing").click()
    expect(message).to_contain_text("was changed successfully")
    page.get_by_role("button", name="Open", exact=True).click()
    expect(message).to_contain_text("no longer has (videos: clip2); build stimuli again to remove them")

    # One build: the stale clips are rebuilt, the removed video's go; then the study opens.
    page.get_by_role("button", name="Build stimuli").click()
    expect(message).to_contain_text("stale clips rebuilt")
    expect(message).to_contain_text("clips of removed videos or controls removed")
    wait_built(experiment)
    assert not experiment.stimuli.filter(video__name="clip2").exists()
    assert provenance.stale(experiment) == []
    assert set(experiment.stimuli.values_list("status", flat=True)) == {"done"}
    page.goto(change)
    expect(page.locator("#build-progress tbody tr").first).to_contain_text("random")
    expect(page.locator("#build-freshness")).to_be_hidden()
    page.get_by_role("button", name="Open", exact=True).click()
    expect(message).to_contain_text("The experiment is open.")
    page.get_by_role("button", name="Close").click()
    expect(message).to_contain_text("The experiment is closed.")

    # History: the builds, the open and the close beside the form saves.
    page.get_by_role("link", name="History").click()
    history = page.locator("#change-history")
    expect(history).to_contain_text("Building 'Study study' on the workers.")
    expect(history).to_contain_text("stale clips rebuilt")
    expect(history).to_contain_text("The experiment is open.")
    expect(history).to_contain_text("The experiment is closed.")

    # The participant link is a link to the entry page.
    page.goto(change)
    page.locator("#entry-link").click()
    expect(page).to_have_url(f"{base}/s/{experiment.slug}/")

    # Stimuli: filtered by method, then by video; durations in seconds.
    page.goto(f"{base}/admin/experiments/stimulus/")
    filters = page.locator("#changelist-filter")
    filters.get_by_role("link", name="random", exact=True).click()
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("random")
    expect(rows.first).to_contain_text("7.00 s")
    page.goto(f"{base}/admin/experiments/stimulus/")
    filters.get_by_role("link", name="clip0 (7.6 s, 64x48, audio)").click()
    expect(rows).to_have_count(experiment.stimuli.filter(video__name="clip0").count())
    page.goto(f"{base}/admin/experiments/video/")
    expect(page.locator("#result_list")).to_contain_text("7.60 s")
    expect(page.locator("#result_list")).not_to_contain_text("7.599999")
