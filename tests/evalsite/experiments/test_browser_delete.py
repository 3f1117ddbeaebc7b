"""A researcher in headless Chromium deletes clips, a method and an experiment in the admin: each
deletion removes the files of what it deleted, and only those."""

import re
from pathlib import Path

import pytest

from tests.evalsite.experiments.test_browser_researcher import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SURE = re.compile("Yes, I.m sure")


def files(rows) -> set[Path]:
    return {Path(row.file.path) for row in rows}


def test_deleting_in_the_admin_removes_the_files_of_what_was_deleted(
    live_server, new_page, researcher, make_experiment
):
    from playwright.sync_api import expect

    experiment = make_experiment(methods=("proposed", "random", "original"), videos=2)
    controls = list(experiment.stimuli.filter(role__in=["gold", "trap"]))
    original = experiment.stimuli.filter(method__label="original")
    videos, kept = files(experiment.videos.all()), files(experiment.stimuli.filter(method__label="proposed"))
    page = new_page(viewport={"width": 1280, "height": 900})
    login(page, live_server.url)

    # Clips: the Stimuli list's "Delete selected" action.
    page.goto(f"{live_server.url}/admin/experiments/stimulus/")
    for clip in controls:
        page.locator(f"input[name=_selected_action][value='{clip.pk}']").check()
    page.locator("select[name=action]").select_option("delete_selected")
    page.get_by_role("button", name="Go").click()
    page.get_by_role("button", name=SURE).click()
    expect(page.locator("ul.messagelist")).to_contain_text("Successfully deleted 2")
    assert not any(path.exists() for path in files(controls))
    assert all(path.exists() for path in files(original) | kept)

    # A method: its inline row's Delete box, then Save.
    gone = files(original)
    change = f"{live_server.url}/admin/experiments/experiment/{experiment.pk}/change/"
    page.goto(change)
    row = page.locator("tr.form-row", has=page.locator("input[value='original']"))
    row.locator("input[name$='-DELETE']").check()
    page.get_by_role("button", name="Save and continue editing").click()
    expect(page.locator("ul.messagelist")).to_contain_text("was changed successfully")
    assert not experiment.methods.filter(label="original").exists()
    assert not any(path.exists() for path in gone)
    assert all(path.exists() for path in kept)

    # The experiment: Delete, then "Yes, I'm sure". Its videos belong to the media library.
    page.goto(change)
    page.get_by_role("link", name="Delete", exact=True).click()
    page.get_by_role("button", name=SURE).click()
    expect(page.locator("ul.messagelist")).to_contain_text("was deleted successfully")
    assert not any(path.exists() for path in kept)
    assert all(path.exists() for path in videos)
