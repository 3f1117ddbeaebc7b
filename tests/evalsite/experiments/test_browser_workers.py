"""A researcher in headless Chromium builds a study while no worker consumes its queues: the
buttons and the change page say which queue lacks a worker, until a real worker starts."""

import pytest

from tests.evalsite.experiments.test_browser_collapse import in_view
from tests.evalsite.experiments.test_browser_researcher import login, messages

pytestmark = [pytest.mark.browser, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


def test_the_change_page_says_which_queue_has_no_worker(
    live_server, new_page, researcher, make_experiment, start_worker, media_root, settings
):
    from playwright.sync_api import expect

    settings.QUEUE_CHECK_S = 0  # ask the workers at every refresh (10 s by default)
    experiment = make_experiment(methods=("proposed", "random"), videos=2, built=False, trap_clips=0)
    experiment.stimuli.all().delete()  # the build makes them
    page = new_page(viewport={"width": 1280, "height": 900})
    login(page, live_server.url)
    page.goto(f"{live_server.url}/admin/experiments/experiment/{experiment.pk}/change/")
    expect(page.locator("#build-progress tbody tr")).to_have_count(2)
    expect(page.locator("#build-workers")).to_be_hidden()  # nothing to build yet

    page.get_by_role("button", name="Build stimuli").click()
    expect(page.locator("ul.messagelist")).to_contain_text("on the workers")
    for queue in ("gpu", "media"):
        assert f"No worker is consuming the {queue} queue" in messages(page)
    idle = page.locator("#build-workers")
    expect(idle).to_contain_text("No worker is consuming the gpu queue: 2 stimuli wait for it.")
    expect(idle).to_contain_text("No worker is consuming the media queue: 5 stimuli wait for it.")
    expect(page.locator("#build-gpu")).to_contain_text("proposed: waiting in the gpu queue for")
    in_view(page, "#build-workers", "workers-missing")

    # Resume build no longer says only that nothing is lost.
    page.get_by_role("button", name="Resume build").click()
    expect(page.locator("ul.messagelist")).to_contain_text("Nothing of 'Study study' is lost")
    assert "No worker is consuming the gpu queue" in messages(page)

    start_worker("default,media", env={"MEDIA_ROOT": str(media_root)})
    expect(idle).not_to_contain_text("media queue")  # the page refreshes itself
    expect(idle).to_contain_text("No worker is consuming the gpu queue: 2 stimuli wait for it.")
    random_row = page.locator("#build-progress tbody tr", has_text="random")
    expect(random_row.locator("td").nth(3)).to_have_text("2", timeout=120_000)
    in_view(page, "#build-workers", "workers-gpu-missing")
    assert experiment.stimuli.filter(method__label="proposed", status="pending").count() == 2
