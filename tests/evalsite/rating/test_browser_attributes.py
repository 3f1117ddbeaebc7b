"""Headless Chromium: a study that asks three questions per clip and stops recruiting on its rule;
then the researcher reads every attribute, the look, and plans the next study's sample size."""

import pytest
from django.urls import reverse

from evalsite.rating.models import Participant, Rating

from .test_browser import score_for

pytestmark = [pytest.mark.browser, pytest.mark.slow]
LABELS = {5: "Excellent", 4: "Good", 3: "Fair", 2: "Poor", 1: "Bad"}


def answer(page, question, score):
    page.locator(f"#question-{question}").get_by_role("radio", name=f"{score} {LABELS[score]}").check()


def test_a_participant_answers_every_question_and_the_researcher_sees_each_attribute(
    transactional_db, live_server, make_study, researcher, new_page, tmp_path
):
    from playwright.sync_api import expect

    experiment = make_study(
        slug="multi", ask_quality=True, ask_sync=True, stopping_rule="sequential", look_every=1,
        participants_wanted=1,
    )  # fmt: skip
    page = new_page(viewport={"width": 390, "height": 844})
    page.goto(f"{live_server.url}/s/multi/?PROLIFIC_PID=pw-7")
    page.get_by_label("I have read the above and agree to take part.").check()
    page.get_by_role("button", name="Start").click()
    participant = Participant.objects.get(external_id="pw-7")
    page.wait_for_function("document.getElementById('audio-check').readyState >= 1")
    page.get_by_label("Digits you heard").fill(participant.audio_check_digits)
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("button", name="Start rating").click()

    expect(page.get_by_role("group", name="How good is the audio quality?")).to_be_visible()
    expect(page.get_by_role("group", name="How well are the sound and the picture in sync?")).to_be_visible()
    page.screenshot(path=tmp_path / "rate-390.png", full_page=True)
    total = participant.assignments.count()
    given = {}
    for number in range(1, total + 1):
        expect(page.locator("#progress")).to_contain_text(f"Clip {number} of {total}")
        assignment = participant.assignments.filter(rating__isnull=True).order_by("position").first()
        page.get_by_role("button", name="Play", exact=True).click()
        expect(page.locator("#submit")).to_be_enabled()
        score = score_for(assignment)
        answer(page, "score", score)
        answer(page, "sync", 6 - score)
        if number == 1:
            # The audio-quality question is still open: the page does not send the rating.
            page.locator("#submit").click()
            quality = page.locator("#question-quality input").first
            assert quality.evaluate("i => i.validity.valueMissing")
            assert not Rating.objects.exists()
            expect(page.locator("#progress")).to_contain_text("Clip 1 of")
        answer(page, "quality", 3 + number % 2)
        given[assignment.pk] = (score, 3 + number % 2, 6 - score)
        page.locator("#submit").click()
        page.wait_for_load_state()
    expect(page.locator("#completion-code")).to_have_text("C0DE-42")
    stored = {r.assignment_id: (r.score, r.quality, r.sync) for r in Rating.objects.all()}
    assert stored == given

    # The finish took the look; with the one participant wanted it stopped recruiting.
    experiment.refresh_from_db()
    assert experiment.stopped_at is not None and experiment.looks.count() == 1
    newcomer = new_page(viewport={"width": 390, "height": 844})
    newcomer.goto(f"{live_server.url}/s/multi/?PROLIFIC_PID=pw-8")
    expect(newcomer.locator("#refusal")).to_have_text(
        "This study already has all the participants it needs. Thank you!"
    )

    results = reverse("experiments:results", args=[experiment.pk])
    method_of = dict(Rating.objects.values_list("assignment_id", "assignment__stimulus__method_id"))
    for width in (1280, 390):
        admin = new_page(viewport={"width": width, "height": 900})
        admin.goto(f"{live_server.url}/admin/login/?next={results}")
        admin.get_by_label("Username").fill("researcher")
        admin.get_by_label("Password").fill("researcher-pass-42")
        admin.get_by_role("button", name="Log in").click()
        expect(admin).to_have_url(f"{live_server.url}{results}")
        for field in ("quality", "sync"):
            section = admin.locator(f"#attribute-{field}")
            expect(section.locator("svg")).to_have_count(1)
            for method in experiment.methods.all():
                column = 1 if field == "quality" else 2
                values = [g[column] for pk, g in given.items() if method_of[pk] == method.pk]
                row = section.locator(".attribute-summary tbody tr", has_text=method.label)
                expect(row).to_contain_text(f"{sum(values) / len(values):.2f}")
        expect(admin.locator("#looks tbody tr")).to_have_count(1)
        expect(admin.locator("#looks")).to_contain_text("stop: reached the 1 participants wanted")
        expect(admin.locator("#stop-status")).to_contain_text(
            "The participant link now says the study is full."
        )
        assert admin.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        admin.screenshot(path=tmp_path / f"results-{width}.png", full_page=True)

        admin.get_by_role("link", name="Plan the sample size").click()
        for method in experiment.methods.all():
            admin.get_by_label(f"Assumed MOS of {method.label}").fill(
                "4.2" if method.kind == "original" else "3.1"
            )
        admin.get_by_label("Participants recruited").fill("5, 10, 20")
        admin.get_by_label("Simulations").fill("200")
        admin.get_by_role("button", name="Simulate").click()
        expect(admin.locator("#plan-sentences")).to_contain_text("participants: power")
        expect(admin.locator("#plan-sentences")).to_contain_text(
            "for original-label > random-label at alpha 0.05"
        )
        expect(admin.locator("#power-table tbody tr")).to_have_count(3)
        expect(admin.locator("#power-chart svg")).to_have_count(1)
        assert admin.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        admin.screenshot(path=tmp_path / f"plan-{width}.png", full_page=True)
        admin.goto(f"{live_server.url}{reverse('admin:experiments_experiment_change', args=[experiment.pk])}")
        expect(admin.locator(".field-looks_taken")).to_contain_text("Look 1: 1 kept (information 1.00)")
        admin.screenshot(path=tmp_path / f"change-{width}.png", full_page=True)
    print(f"screenshots in {tmp_path}")
