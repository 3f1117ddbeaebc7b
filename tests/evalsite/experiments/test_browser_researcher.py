"""A researcher in headless Chromium clicks every button and link of an experiment's change page,
its preview and its results, on a real worker, and each click's effect is checked in the database."""

import json
import re
import time

import pytest

from tests.conftest import ROOT

pytestmark = [pytest.mark.browser, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

SHOTS = ROOT / "var" / "screenshots"
WIDTHS = (1280, 390)
LONG_NAME = "Kitchen_door_slam_take_03_closeup_slowmotion_1080p_from_the_2019_foley_session_master.mov"


def login(page, base):
    page.goto(f"{base}/admin/login/")
    page.fill("#id_username", "researcher")
    page.fill("#id_password", "researcher-pass-42")
    page.click("input[type=submit]")


def messages(page):
    return page.locator("ul.messagelist").inner_text()


def no_horizontal_scroll(page, name):
    """At each width the page is no wider than the window (the browser's own measure)."""
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.wait_for_timeout(100)
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)
        scroll, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert scroll <= inner, f"{name} is {scroll} px wide in a {inner} px window"
    page.set_viewport_size({"width": 1280, "height": 900})


def wait_built(experiment):
    """Until every clip is done or failed: a slow machine only waits longer (pytest's timeout
    bounds a hang)."""
    while experiment.stimuli.exclude(status__in=["done", "failed"]).exists():
        time.sleep(0.3)


def test_every_button_and_link_of_change_preview_and_results_pages(
    live_server, new_page, researcher, make_experiment, rate, start_worker, purge_broker, media_root, settings
):
    from playwright.sync_api import expect

    from evalsite.experiments.models import Experiment

    experiment = make_experiment(methods=("random", "original"), videos=2, built=False, trap_clips=0)
    experiment.stimuli.all().delete()  # the build makes them
    settings.BUILD_DISPATCH_GRACE_S = 0  # judge messages at once (the default waits 15 s)
    page = new_page(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    base = live_server.url
    login(page, base)
    change = f"{base}/admin/experiments/experiment/{experiment.pk}/change/"
    page.goto(change)
    no_horizontal_scroll(page, "change")

    # Open before the build: refused with the reason, status unchanged.
    page.get_by_role("button", name="Open", exact=True).click()
    expect(page.locator("ul.messagelist")).to_contain_text("has no stimuli yet")
    assert Experiment.objects.get(pk=experiment.pk).status == "draft"

    # Build stimuli with no worker up: the rows exist at once, their messages wait in the broker.
    page.get_by_role("button", name="Build stimuli").click()
    expect(page.locator("ul.messagelist")).to_contain_text("on the workers")
    assert experiment.stimuli.count() == 2 * 2 + 1  # videos x methods + one gold
    assert purge_broker.llen("media") == 5
    page.get_by_role("button", name="Resume build").click()
    expect(page.locator("ul.messagelist")).to_contain_text("Nothing of 'Study study' is lost: 5 stimuli")
    assert not experiment.stimuli.filter(lost__gt=0).exists()
    # The broker loses them (what a restart without persistence does): Resume build sends them again.
    purge_broker.delete("media")
    page.get_by_role("button", name="Resume build").click()
    lost = "lost: 5, re-dispatched (5 its task was in neither"
    expect(page.locator("ul.messagelist")).to_contain_text(lost)
    expect(page.locator("#build-health")).to_contain_text("lost: 5, re-dispatched")
    assert purge_broker.llen("media") == 5
    assert set(experiment.stimuli.values_list("lost", flat=True)) == {1}
    start_worker("default,media", env={"MEDIA_ROOT": str(media_root)})
    wait_built(experiment)
    assert set(experiment.stimuli.values_list("status", flat=True)) == {"done"}
    page.reload()
    expect(page.locator("#build-progress tbody tr").first).to_contain_text("random0020")
    hub = page.locator("#build-progress tbody tr").first.locator("td").last
    expect(hub).to_have_text(
        re.compile(r"\d\.\d\d \(\d+ videos?, \d+ sounds?\)( ⚠ one sound for most videos)?$")
    )
    page.get_by_role("button", name="Resume build").click()
    expect(page.locator("ul.messagelist")).to_contain_text("has nothing left to build")

    # Save and continue editing, then Save: the edit is stored, no "This field is required".
    page.fill("#id_title", "Renamed study")
    page.get_by_role("button", name="Save and continue editing").click()
    expect(page.locator("ul.messagelist")).to_contain_text("was changed successfully")
    assert Experiment.objects.get(pk=experiment.pk).title == "Renamed study"
    page.fill("#id_instructions", "Rate how well the sound fits.")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page).to_have_url(f"{base}/admin/experiments/experiment/")
    assert Experiment.objects.get(pk=experiment.pk).instructions == "Rate how well the sound fits."

    # Save and add another: stored, and the add page comes next.
    page.goto(change)
    page.fill("#id_participants_wanted", "30")
    page.get_by_role("button", name="Save and add another").click()
    expect(page).to_have_url(f"{base}/admin/experiments/experiment/add/")
    assert Experiment.objects.get(pk=experiment.pk).participants_wanted == 30

    # Open, Close, Reopen.
    page.goto(change)
    page.get_by_role("button", name="Open", exact=True).click()
    expect(page.locator("ul.messagelist")).to_contain_text("The experiment is open.")
    opened = Experiment.objects.get(pk=experiment.pk)
    assert opened.status == "open" and opened.opened_at is not None
    expect(page.locator("#experiment-actions")).to_contain_text("Status: Open")
    page.get_by_role("button", name="Close").click()
    expect(page.locator("ul.messagelist")).to_contain_text("The experiment is closed.")
    closed = Experiment.objects.get(pk=experiment.pk)
    assert closed.status == "closed" and closed.closed_at is not None
    page.get_by_role("button", name="Reopen").click()
    assert Experiment.objects.get(pk=experiment.pk).status == "open"

    # The participant link leads to the study's entry page.
    entry = page.locator("#entry-link").inner_text()
    assert entry == f"{base}/s/{experiment.slug}/" or entry.endswith(f"/{experiment.slug}/")
    # A long file-stem name (they come from imports) must wrap, not widen the pages.
    experiment.videos.filter(name="clip1").update(name=LONG_NAME)
    rate(experiment, {"random": [2, 3], "original": [5, 4], "gold": [1]}, external_id="p1")
    rate(experiment, {"random": [1, 2], "original": [4, 5], "gold": [1]}, external_id="p2")

    # Object tools: downloads are the study's data.
    for name, check in (
        ("Ratings CSV", lambda text: text.count("\n") == 1 + 2 * 5),
        ("Manifest JSON", lambda text: len(json.loads(text)["stimuli"]) == 5),
    ):
        with page.expect_download() as download:
            page.locator(".object-tools").get_by_role("link", name=name).click()
        assert check(open(download.value.path()).read()), name
    page.locator(".object-tools").get_by_role("link", name="History").click()
    expect(page.locator("#change-history")).to_contain_text("Changed")
    page.go_back()

    # Preview: every clip plays from the staff-only media URL; breadcrumbs lead back.
    page.locator(".object-tools").get_by_role("link", name="Preview stimuli").click()
    expect(page.locator("h1")).to_have_text("Preview: Renamed study")
    players = page.locator("#stimuli video")
    expect(players).to_have_count(5)
    for i in range(5):
        duration = players.nth(i).evaluate(
            "v => new Promise((ok, no) => { v.onloadedmetadata = () => ok(v.duration);"
            " v.onerror = () => no('no media'); v.preload = 'metadata'; v.load(); })"
        )
        assert duration == pytest.approx(7.0, abs=0.15)
    no_horizontal_scroll(page, "preview")
    page.locator(".breadcrumbs").get_by_role("link", name="Renamed study").click()
    expect(page).to_have_url(change)

    # Results: the tables, both downloads again, and back.
    page.locator(".object-tools").get_by_role("link", name="Results").click()
    expect(page.locator("h1")).to_have_text("Results: Renamed study")
    expect(page.locator("#summary tbody tr")).to_have_count(2)
    no_horizontal_scroll(page, "results")
    for name in ("Ratings CSV", "Manifest JSON"):
        with page.expect_download() as download:
            page.locator("#results").get_by_role("link", name=name).click()
        assert download.value.suggested_filename.startswith(experiment.slug)
    page.locator(".breadcrumbs").get_by_role("link", name="Experiments").click()
    expect(page).to_have_url(f"{base}/admin/experiments/experiment/")

    # Delete: Django's confirmation page; ratings protect the study, nothing is lost.
    page.goto(change)
    page.get_by_role("link", name="Delete", exact=True).click()
    expect(page.locator("#content")).to_contain_text("protected related objects")
    expect(page.get_by_role("button", name="Yes, I’m sure")).to_have_count(0)
    assert Experiment.objects.filter(pk=experiment.pk).exists()
