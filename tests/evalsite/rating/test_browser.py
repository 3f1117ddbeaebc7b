"""A participant in headless Chromium: consent, audio check, training, every clip, finish; then
the researcher sees those ratings on the results page. On the way the participant tries to skip
to the end of a clip, sends a rating the page was fooled into allowing, and loses the connection
(once before the rating reaches the server, once after it was stored but before the answer came).

With SCREENSHOTS_DIR set, every participant page is also saved at 390 and 1280 px wide there."""

import os
from pathlib import Path

import pytest
from django.urls import reverse

from evalsite.experiments.models import Stimulus
from evalsite.rating.models import Participant, Rating

pytestmark = [pytest.mark.browser, pytest.mark.slow]
CLIP_SECONDS = 1.2  # conftest.make_clip's default


def shot(page, name):
    folder = os.getenv("SCREENSHOTS_DIR")
    if not folder:
        return
    Path(folder).mkdir(parents=True, exist_ok=True)
    size = page.viewport_size
    for width in (390, 1280):
        page.set_viewport_size({"width": width, "height": 844})
        page.screenshot(path=f"{folder}/{name}-{width}.png", full_page=True)
    page.set_viewport_size(size)

@pytest.fixture
def page(new_page):
    return new_page(viewport={"width": 390, "height": 844})  # a phone


def score_for(assignment) -> int:
    # Pass the attention checks, and vary test scores so screening keeps the participant.
    stimulus = assignment.stimulus
    if stimulus.role == "gold":
        return 1
    if stimulus.role == "trap":
        return stimulus.expected_score
    return 5 if stimulus.method.kind == "original" else 2 + assignment.position % 2


LABELS = dict([(5, "Excellent"), (4, "Good"), (3, "Fair"), (2, "Poor"), (1, "Bad")])


def choose(page, score):
    page.get_by_role("radio", name=f"{score} {LABELS[score]}").check()


def play_to_end(page):
    from playwright.sync_api import expect

    submit = page.locator("#submit")
    expect(submit).to_be_disabled()
    page.get_by_role("button", name="Play", exact=True).click()
    disabled, ended = page.evaluate(
        "() => [document.getElementById('submit').disabled, document.getElementById('clip').ended]"
    )
    assert disabled and not ended  # still playing: no rating yet
    expect(submit).to_be_enabled()
    assert page.locator("#clip").evaluate("v => v.ended")
    expect(page.get_by_role("button", name="Replay")).to_be_enabled()


def rate_current_clip(page, participant, trouble=None):
    from playwright.sync_api import expect

    assignment = participant.assignments.filter(rating__isnull=True).order_by("position").first()
    number = assignment.position + 1
    if trouble == "seek":
        # No seek bar; a script that jumps to the end is put back where playback was.
        page.get_by_role("button", name="Play", exact=True).click()
        page.wait_for_function("document.getElementById('clip').currentTime > 0.1")
        position = page.locator("#clip").evaluate(
            "v => new Promise(done => {"
            " v.addEventListener('seeked', () => done(v.currentTime), {once: true});"
            " v.currentTime = v.duration - 0.05; })"
        )
        assert position < CLIP_SECONDS - 0.4
        assert page.locator("#submit").is_disabled()
        expect(page.locator("#submit")).to_be_enabled()
    elif trouble == "fooled":
        # A page made to enable Next at once: the server refuses, the page says why.
        page.evaluate("document.getElementById('submit').disabled = false")
        choose(page, 3)
        page.locator("#submit").click()
        refusal = "Please play the clip to the end before you rate it."
        expect(page.locator("#score-error")).to_have_text(refusal)
        assert not Rating.objects.filter(assignment=assignment).exists()
        page.evaluate("document.getElementById('submit').disabled = true")
        play_to_end(page)
    else:
        play_to_end(page)
    score = score_for(assignment)
    choose(page, score)
    if trouble == "offline":
        page.context.set_offline(True)
        page.locator("#submit").click()
        expect(page.locator("#play-hint")).to_contain_text("Connection lost, retrying")
        shot(page, "rate-connection-lost")
        assert not Rating.objects.filter(assignment=assignment).exists()
        expect(page.get_by_role("radio", name=f"{score} {LABELS[score]}")).to_be_checked()
        page.context.set_offline(False)
    elif trouble == "answer lost":
        # The rating reaches the server and is stored; its answer never reaches the browser.
        dropped = []

        def drop_answer(route):
            dropped.append(route.fetch(max_redirects=0).status)
            route.abort("connectionreset")
            page.unroute("**/rate/", drop_answer)

        page.route("**/rate/", drop_answer)
        page.locator("#submit").click()
        expect(page.locator("#progress")).not_to_contain_text(f"Clip {number} of")
        assert dropped == [302]  # stored the first time; the resend was answered as stored too
        assert Rating.objects.get(assignment=assignment).score == score
    else:
        if number == 1:
            shot(page, "rate-ready")
        page.locator("#submit").click()
    expect(page.locator("#progress").or_(page.locator("#completion-code"))).not_to_contain_text(
        f"Clip {number} of"
    )
    return assignment, score


def test_it_walks_a_participant_through_a_study_and_shows_the_ratings_to_the_researcher(
    transactional_db, live_server, make_study, researcher, page
):
    from playwright.sync_api import expect

    experiment = make_study(slug="browser")
    # The clips' real length: the server refuses a rating sooner than that after playback began.
    Stimulus.objects.filter(experiment=experiment).update(duration=CLIP_SECONDS)
    Stimulus.objects.filter(experiment=experiment, role="training").update(control_kind="original")
    page.goto(f"{live_server.url}/s/browser/?PROLIFIC_PID=pw-1&STUDY_ID=st")
    shot(page, "consent")
    page.get_by_label("I have read the above and agree to take part.").check()
    page.get_by_role("button", name="Start").click()

    expect(page).to_have_url(f"{live_server.url}/s/browser/audio-check/")
    page.wait_for_function("document.getElementById('audio-check').readyState >= 1")
    assert page.locator("#audio-check").evaluate("a => a.duration") > 1.5
    participant = Participant.objects.get(external_id="pw-1")
    shot(page, "audio-check")
    page.get_by_label("Digits you heard").fill("four")
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("#answer-error")).to_have_text("Type only the digits you heard, for example 4 7 1 9.")
    shot(page, "audio-check-error")
    page.get_by_label("Digits you heard").fill(" ".join(participant.audio_check_digits))
    page.get_by_role("button", name="Continue").click()

    expect(page).to_have_url(f"{live_server.url}/s/browser/instructions/")
    training = page.locator(".examples video")
    expect(training).to_have_count(1)
    expect(page.locator(".example-title")).to_have_text("An example of a good match")
    training.first.evaluate("v => new Promise(done => { v.onloadedmetadata = done; v.load(); })")
    shot(page, "instructions")
    page.get_by_role("button", name="Start rating").click()

    total = participant.assignments.count()
    troubles = {1: "seek", 2: "fooled", 3: "offline", 4: "answer lost"}
    given = {}
    for number in range(1, total + 1):
        expect(page.locator("#progress")).to_contain_text(f"Clip {number} of {total}")
        assignment, score = rate_current_clip(page, participant, troubles.get(number))
        given[assignment.pk] = score
    expect(page.locator("#completion-code")).to_have_text("C0DE-42")
    shot(page, "done")

    stored = {r.assignment_id: (r.score, r.played_to_end) for r in Rating.objects.all()}
    assert stored == {pk: (score, True) for pk, score in given.items()}
    participant.refresh_from_db()
    assert participant.audio_check_passed and participant.finished_at is not None

    results = reverse("experiments:results", args=[experiment.pk])
    page.goto(f"{live_server.url}/admin/login/?next={results}")
    page.get_by_label("Username").fill("researcher")
    page.get_by_label("Password").fill("researcher-pass-42")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{live_server.url}{results}")
    method_of = dict(Rating.objects.values_list("assignment_id", "assignment__stimulus__method_id"))
    for method in experiment.methods.all():
        scores = [score for pk, score in given.items() if method_of[pk] == method.pk]
        row = page.locator("#summary tbody tr", has_text=method.label)
        expect(row).to_contain_text(str(len(scores)))
        expect(row).to_contain_text(f"{sum(scores) / len(scores):.2f}")


def test_it_tells_a_participant_of_a_draft_study_that_it_is_not_open_yet(live_server, make_study, page):
    from playwright.sync_api import expect

    make_study(slug="draft", status="draft")
    page.goto(f"{live_server.url}/s/draft/?PROLIFIC_PID=early")
    expect(page.get_by_role("heading", level=1)).to_have_text("Not open yet")
    expect(page.get_by_role("alert")).to_have_text(
        "This study is not open yet. Please come back when the researcher has opened it."
    )
    shot(page, "not-open-yet")
