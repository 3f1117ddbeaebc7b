"""A researcher in headless Chromium opens studies whose methods collapsed onto one sound: the
change page flags it where a phone shows it, and Open (button or change-list action) asks for a
confirmation first."""

import pytest

from evalsite.experiments.models import Experiment
from tests.evalsite.experiments.test_browser_researcher import SHOTS, WIDTHS, login, messages

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def status(experiment) -> str:
    return Experiment.objects.get(pk=experiment.pk).status


def in_view(page, selector, name):
    """At each width the element is shown and fits in the window (no sideways scrolling to read
    it); a screenshot of each width goes to var/screenshots."""
    from playwright.sync_api import expect

    flag = page.locator(selector)
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        expect(flag).to_be_visible()
        box = flag.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width, (width, box)
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def test_open_warns_of_collapsed_methods_and_waits_for_a_confirmation(
    live_server, new_page, researcher, make_experiment
):
    from playwright.sync_api import expect

    # The fixture gives every clip one sound: with 4 videos, "random" has collapsed.
    experiment = make_experiment(methods=("random", "original"), videos=4)
    page = new_page(viewport={"width": 1280, "height": 900})
    login(page, live_server.url)
    change = f"{live_server.url}/admin/experiments/experiment/{experiment.pk}/change/"
    page.goto(change)
    expect(page.locator("#build-collapsed")).to_contain_text("One sound for most videos in random")
    in_view(page, "#build-collapsed", "collapsed-change")

    page.get_by_role("button", name="Open", exact=True).click()
    expect(page.locator("h1")).to_have_text("Open a study whose methods collapsed?")
    expect(page.locator("#collapse-confirmation")).to_contain_text(
        "random: one sound for 100% of its 4 videos (1 distinct sound)"
    )
    page.screenshot(path=str(SHOTS / "collapsed-confirm-1280.png"), full_page=True)
    assert status(experiment) == "draft"
    page.get_by_role("link", name="Cancel").click()
    expect(page).to_have_url(change)
    assert status(experiment) == "draft"

    page.get_by_role("button", name="Open", exact=True).click()
    page.get_by_role("button", name="Open anyway").click()
    expect(page.locator("ul.messagelist")).to_contain_text("The experiment is open.")
    assert status(experiment) == "open"


def test_the_open_action_of_the_change_list_confirms_too(live_server, new_page, researcher, make_experiment):
    from playwright.sync_api import expect

    collapsed = make_experiment(methods=("random", "original"), videos=4, slug="hub")
    fine = make_experiment(methods=("random", "original"), videos=2, slug="fine")
    page = new_page(viewport={"width": 390, "height": 900})
    login(page, live_server.url)
    page.goto(f"{live_server.url}/admin/experiments/experiment/")
    for experiment in (collapsed, fine):
        page.locator(f"input[name=_selected_action][value='{experiment.pk}']").check()
    page.locator("select[name=action]").select_option("open_action")
    page.get_by_role("button", name="Go").click()
    expect(page.locator("#collapse-confirmation")).to_contain_text("In 'Study hub'")
    expect(page.locator("#collapse-confirmation")).not_to_contain_text("Study fine")
    page.screenshot(path=str(SHOTS / "collapsed-confirm-390.png"), full_page=True)
    assert (status(collapsed), status(fine)) == ("draft", "draft")
    page.get_by_role("button", name="Open anyway").click()
    expect(page.locator("ul.messagelist")).to_contain_text("'Study hub' is open.")
    assert "'Study fine' is open." in messages(page)
    assert (status(collapsed), status(fine)) == ("open", "open")

    # Without a collapsed method, Open opens at once.
    other = make_experiment(methods=("random", "original"), videos=2, slug="other")
    page.goto(f"{live_server.url}/admin/experiments/experiment/{other.pk}/change/")
    expect(page.locator("#build-progress tbody tr")).to_have_count(3)
    expect(page.locator("#build-collapsed")).to_be_hidden()
    page.get_by_role("button", name="Open", exact=True).click()
    expect(page.locator("ul.messagelist")).to_contain_text("The experiment is open.")
