"""What a participant sees on the instructions and finish pages of a 390 px phone, in Chromium."""

import pytest

from .conftest import signed_cookie

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def phone(new_page, live_server, participant, slug):
    page = new_page(viewport={"width": 390, "height": 844})
    page.context.add_cookies([{"name": f"participant-{slug}", "url": live_server.url,
                               "value": signed_cookie(slug, participant.token)}])
    return page


def instructions_on_a_phone(make_study, walk, new_page, live_server, slug):
    """The instructions page with its 3 training examples, reached as a participant on a phone."""
    from playwright.sync_api import expect

    rater = walk(make_study(slug=slug, training=3))
    participant = rater.consent()
    rater.audio_check()
    page = phone(new_page, live_server, participant, slug)
    page.goto(f"{live_server.url}/s/{slug}/instructions/")
    expect(page.locator(".examples video")).to_have_count(3)
    return page


def test_it_says_what_the_training_examples_are(
    transactional_db, live_server, make_study, walk, new_page
):
    page = instructions_on_a_phone(make_study, walk, new_page, live_server, "examples")
    text = page.locator("main").inner_text()
    assert "ends of the scale" not in text  # one of them is a sound picked at random
    assert "These 3 examples show the kinds of clip you will rate; each caption says what it is." in text


def test_it_keeps_the_completion_code_on_one_line_on_a_phone(
    transactional_db, live_server, make_study, walk, new_page
):
    from playwright.sync_api import expect

    experiment = make_study(slug="code", gold=0, trap=0, completion_code="SFX-2026-EVAL-7F3K-9Q2M")
    rater = walk(experiment)
    participant = rater.to_rating()
    while (assignment := rater.current()) is not None:
        rater.rate(assignment, 4)
    page = phone(new_page, live_server, participant, "code")
    page.goto(f"{live_server.url}/s/code/done/")
    code = page.locator("#completion-code")
    expect(code).to_have_text("SFX-2026-EVAL-7F3K-9Q2M")
    assert code.evaluate("e => e.getClientRects().length") == 1  # not broken at a hyphen
    box = code.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390


def test_it_takes_a_keyboard_user_few_tab_presses_to_start_rating_and_plays_examples_by_keyboard(
    transactional_db, live_server, make_study, walk, new_page
):
    page = instructions_on_a_phone(make_study, walk, new_page, live_server, "keys")
    presses = 0
    while page.evaluate("document.activeElement.textContent.trim()") != "Start rating":
        page.keyboard.press("Tab")
        presses += 1
        assert presses <= 5, "more than the skip link, a Play button per example and Start rating"
    # Each example plays from its own button, by keyboard too.
    first = page.get_by_role("button", name="Play example 1")
    first.focus()
    page.keyboard.press("Enter")
    page.wait_for_function("document.getElementById('example-1').played.length > 0")
