"""The playback clock does not depend on the order in which the page's requests reach the server.

Chromium asks for the clip as the page loads; here that request is held back until the server
has answered the page's `/started/`, as on a loaded server or a slow network. The participant
who then plays the clip to its end is not refused, and needs no reload."""

import pytest

from evalsite.experiments.models import Stimulus
from evalsite.rating.models import Rating

from .conftest import signed_cookie

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_it_accepts_a_clip_played_to_its_end_when_started_reaches_the_server_before_the_media(
    transactional_db, live_server, make_study, walk, new_page
):
    from playwright.sync_api import expect

    experiment = make_study(slug="race", gold=0, trap=0)
    Stimulus.objects.filter(experiment=experiment).update(duration=1.2)  # conftest.make_clip's length
    participant = walk(experiment).to_rating()  # consent, audio check, instructions
    page = new_page()
    page.context.add_cookies([{"name": "participant-race", "value": signed_cookie("race", participant.token),
                               "url": live_server.url}])

    # Hold each clip request until the server has answered /started/.
    held, started = [], []

    def hold_clip(route):
        if started:
            route.continue_()
        else:
            held.append(route)

    def answer_started(route):
        response = route.fetch()
        started.append(response.status)
        route.fulfill(response=response)
        while held:
            held.pop().continue_()

    page.route("**/clip/*", hold_clip)
    page.route("**/started/", answer_started)
    page.goto(f"{live_server.url}/s/race/rate/")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Clip 1 of {participant.assignments.count()}")
    page.get_by_role("button", name="Play", exact=True).click()
    expect(page.get_by_role("button", name="Next")).to_be_enabled()
    assignment = participant.assignments.order_by("position").first()
    assignment.refresh_from_db()
    # The server heard of the start before it served the media; the clock counts from the later.
    assert assignment.playback_started_at < assignment.media_served_at

    page.get_by_role("radio", name="4 Good").check()
    page.get_by_role("button", name="Next").click()
    expect(page.locator("#progress")).to_contain_text("Clip 2 of")
    rating = Rating.objects.get(assignment=assignment)
    assert started == [204]  # once: the page never needed to send it again
    assert (rating.score, rating.played_to_end, rating.too_fast) == (4, True, False)


def test_it_sends_the_end_again_by_itself_when_the_server_finds_it_too_soon(
    transactional_db, live_server, make_study, walk, new_page
):
    from playwright.sync_api import expect

    experiment = make_study(slug="again", gold=0, trap=0)
    # As when the start reached a loaded server late: the server believes the 1.2 s clip began
    # later than it did. Here it believes the clip lasts 4 s: its end comes too soon (1.2 < 4 - 1).
    Stimulus.objects.filter(experiment=experiment).update(duration=4.0)
    participant = walk(experiment).to_rating()
    page = new_page()
    page.context.add_cookies([{"name": "participant-again", "url": live_server.url,
                               "value": signed_cookie("again", participant.token)}])
    answers = []

    def played(route):
        response = route.fetch()
        answers.append((response.status, response.headers.get("retry-after")))
        route.fulfill(response=response)

    page.route("**/played/", played)
    page.goto(f"{live_server.url}/s/again/rate/")
    page.get_by_role("button", name="Play", exact=True).click()
    expect(page.locator("#play-hint")).to_have_text("Checking that the clip played to its end…")
    expect(page.get_by_role("button", name="Next")).to_be_enabled()
    assert [status for status, _ in answers] == [409, 204]  # sent again after Retry-After, no replay
    assert int(answers[0][1]) >= 2
    expect(page.locator("#score-error")).to_be_hidden()
    page.get_by_role("radio", name="3 Fair").check()
    page.get_by_role("button", name="Next").click()
    expect(page.locator("#progress")).to_contain_text("Clip 2 of")
    rating = Rating.objects.get(assignment__participant=participant)
    assert (rating.score, rating.played_to_end, rating.too_fast) == (3, True, False)
