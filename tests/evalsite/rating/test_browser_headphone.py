"""Headless Chromium: the headphone check passed by keyboard on a 390 px phone, and failed with a
mouse on a 1280 px screen by a listener who hears the antiphase tone as quietest."""

import pytest

from evalsite.rating import headphonecheck
from evalsite.rating.models import Participant

from .conftest import signed_cookie

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def at_headphone_check(make_study, walk, new_page, live_server, width, slug):
    rater = walk(make_study(slug=slug, headphone_check=True))
    participant = rater.consent()
    rater.audio_check()
    page = new_page(viewport={"width": width, "height": 844})
    page.context.add_cookies([{"name": f"participant-{slug}", "url": live_server.url,
                               "value": signed_cookie(slug, participant.token)}])  # fmt: skip
    page.goto(f"{live_server.url}/s/{slug}/headphone-check/")
    return page, participant


def quiet_positions(participant) -> list[int]:
    participant.refresh_from_db()
    return headphonecheck.quiet_positions(participant.headphone_check_key)


def test_a_keyboard_user_on_a_phone_plays_the_sounds_and_passes(
    transactional_db, live_server, make_study, walk, new_page, tmp_path
):
    from playwright.sync_api import expect

    page, participant = at_headphone_check(make_study, walk, new_page, live_server, 390, "phone")
    expect(page.get_by_role("heading", name="Headphone check")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing wider than the phone
    page.screenshot(path=tmp_path / "headphone-390.png", full_page=True)
    answers = quiet_positions(participant)
    while page.evaluate("document.activeElement.textContent.trim()") != "Play sound 1":
        page.keyboard.press("Tab")
    for trial, right in enumerate(answers, start=1):
        assert page.evaluate("document.activeElement.textContent.trim()") == f"Play sound {trial}"
        page.keyboard.press("Enter")
        page.wait_for_function(f"document.getElementById('headphone-{trial}').played.length > 0")
        page.keyboard.press("Tab")  # into the trial's three tones; Space picks, arrows move the pick
        page.keyboard.press("Space")
        for _ in range(right - 1):
            page.keyboard.press("ArrowRight")
        expect(page.locator(f"#trial-{trial}-{right}")).to_be_checked()
        page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Continue"
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Start rating")).to_be_visible()
    participant.refresh_from_db()
    assert (participant.headphone_check_passed, participant.headphone_check_correct) == (True, 6)
    print(f"screenshots in {tmp_path}")


def test_a_listener_on_loudspeakers_fails_three_times_and_goes_on(
    transactional_db, live_server, make_study, walk, new_page, tmp_path
):
    from playwright.sync_api import expect

    page, participant = at_headphone_check(make_study, walk, new_page, live_server, 1280, "speakers")
    page.screenshot(path=tmp_path / "headphone-1280.png", full_page=True)
    for attempt in range(1, 4):
        expect(page.locator(".hint")).to_contain_text(f"Attempt {attempt} of 3.")
        participant.refresh_from_db()
        orders = headphonecheck.trial_orders(participant.headphone_check_key)
        for trial, order in enumerate(orders, start=1):
            page.locator(f"#trial-{trial}-{order.index('A') + 1}").check()  # the antiphase tone
        page.get_by_role("button", name="Continue").click()
        if attempt == 1:
            expect(page.get_by_role("status")).to_contain_text("Fewer than 5 of the 6 answers were right")
            page.screenshot(path=tmp_path / "headphone-failed-1280.png", full_page=True)
            page.set_viewport_size({"width": 390, "height": 844})
            page.screenshot(path=tmp_path / "headphone-failed-390.png", full_page=True)
            page.set_viewport_size({"width": 1280, "height": 844})
    expect(page.get_by_role("button", name="Start rating")).to_be_visible()
    participant = Participant.objects.get(pk=participant.pk)
    assert (participant.headphone_check_passed, participant.headphone_check_attempts) == (False, 3)
    assert participant.headphone_check_correct == 0
    print(f"screenshots in {tmp_path}")
