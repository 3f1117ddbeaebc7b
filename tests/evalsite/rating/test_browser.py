"""A participant in headless Chromium: consent, audio check, training, every clip, finish; then
the researcher sees those ratings on the results page."""

import pytest
from django.urls import reverse

from evalsite.rating.models import Participant, Rating

pytestmark = [pytest.mark.browser, pytest.mark.slow]

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


def rate_current_clip(page, participant):
    from playwright.sync_api import expect

    assignment = participant.assignments.filter(rating__isnull=True).order_by("position").first()
    submit = page.locator("#submit")
    expect(submit).to_be_disabled()
    page.get_by_role("button", name="Play", exact=True).click()
    disabled, ended = page.evaluate(
        "() => [document.getElementById('submit').disabled, document.getElementById('clip').ended]"
    )
    assert disabled and not ended  # still playing: no rating yet
    expect(submit).to_be_enabled()
    assert page.locator("#clip").evaluate("v => v.ended")
    score = score_for(assignment)
    label = dict([(5, "Excellent"), (4, "Good"), (3, "Fair"), (2, "Poor"), (1, "Bad")])[score]
    page.get_by_role("radio", name=f"{score} {label}").check()
    submit.click()
    page.wait_for_load_state()
    return assignment, score


def test_it_walks_a_participant_through_a_study_and_shows_the_ratings_to_the_researcher(
    transactional_db, live_server, make_study, researcher, page
):
    from playwright.sync_api import expect

    experiment = make_study(slug="browser")
    page.goto(f"{live_server.url}/s/browser/?PROLIFIC_PID=pw-1&STUDY_ID=st")
    page.get_by_label("I have read the above and agree to take part.").check()
    page.get_by_role("button", name="Start").click()

    expect(page).to_have_url(f"{live_server.url}/s/browser/audio-check/")
    page.wait_for_function("document.getElementById('audio-check').readyState >= 1")
    assert page.locator("#audio-check").evaluate("a => a.duration") > 1.5
    participant = Participant.objects.get(external_id="pw-1")
    page.get_by_label("Digits you heard").fill(" ".join(participant.audio_check_digits))
    page.get_by_role("button", name="Continue").click()

    expect(page).to_have_url(f"{live_server.url}/s/browser/instructions/")
    training = page.locator(".examples video")
    expect(training).to_have_count(1)
    training.first.evaluate("v => new Promise(done => { v.onloadedmetadata = done; v.load(); })")
    page.get_by_role("button", name="Start rating").click()

    total = participant.assignments.count()
    given = {}
    for number in range(1, total + 1):
        expect(page.locator("#progress")).to_contain_text(f"Clip {number} of {total}")
        assignment, score = rate_current_clip(page, participant)
        given[assignment.pk] = score
    expect(page.locator("#completion-code")).to_have_text("C0DE-42")

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
