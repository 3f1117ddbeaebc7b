"""A researcher in headless Chromium: logs in to the admin, opens an experiment, reads its results."""

import pytest

from tests.evalsite.experiments.test_browser_researcher import no_horizontal_scroll

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

@pytest.fixture
def page(new_page):
    return new_page()


def test_it_shows_results_with_chart_and_tables_after_an_admin_login(
    live_server, page, researcher, make_experiment, rate
):
    from playwright.sync_api import expect

    experiment = make_experiment(methods=("proposed", "random"), videos=3)
    for top in (5, 4):
        rate(experiment, {"proposed": [top, 4, 5], "random": [1, 2, 2], "gold": [1], "trap": [4]})
    rate(
        experiment, {"proposed": [3, 3, 3], "random": [3, 3, 3], "gold": [1], "trap": [1]}, external_id="lazy"
    )

    page.goto(f"{live_server.url}/admin/")
    page.fill("#id_username", "researcher")
    page.fill("#id_password", "researcher-pass-42")
    page.click("input[type=submit]")
    page.locator("#experiments-experiment").get_by_role("link", name="Experiments").click()
    page.get_by_role("link", name="Study study").click()
    expect(page.locator("#experiment-actions")).to_contain_text("Status: Draft")
    # The progress table is filled in by the page's script from the progress endpoint.
    progress = page.locator("#build-progress tbody tr")
    expect(progress).to_have_count(3)  # proposed, random, controls
    # method, pending, running, done, failed, hub share: the fixture gives every clip one sound
    cells = ["proposed", "0", "0", "3", "0", "1.00 (3 videos, 1 sound)"]
    expect(progress.first.locator("td")).to_have_text(cells)
    no_horizontal_scroll(page, "change-with-methods")  # the methods' inline row scrolls in its box
    page.get_by_role("link", name="Results").click()

    expect(page.locator("h1")).to_have_text("Results: Study study")
    rows = page.locator("#summary tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("proposed")
    expect(rows.nth(0).locator("td").nth(1)).to_have_text("6")
    expect(page.locator("#mos-chart svg")).to_be_visible()
    expect(page.locator("#comparisons tbody tr")).to_have_count(2)
    expect(page.locator("#comparisons tbody tr").first).to_contain_text("**")
    expect(page.locator("#excluded")).to_contain_text("lazy")
    expect(page.locator("#excluded")).to_contain_text("failed 1 trapping clip")
