"""The rating endpoint: the happy path, and every bad submission refused with nothing stored."""

import re

import pytest
from django.test import Client

from evalsite.experiments.models import Experiment
from evalsite.rating.models import Assignment, Rating


def snapshot():
    ratings = list(Rating.objects.values_list("assignment_id", "score", "played_to_end"))
    assignments = list(Assignment.objects.values_list("pk", "played_to_end_at", "play_count"))
    return ratings, assignments


@pytest.fixture
def rater(client, make_study, walk):
    w = walk(make_study())
    w.to_rating()
    return w


def test_it_shows_one_clip_with_an_accessible_five_point_scale_and_progress(client, rater):
    response = client.get(rater.url("rate"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "<h1>Clip 1 of 6</h1>" in html  # the page's heading, for screen readers' heading lists
    assert "<fieldset" in html and "<legend>" in html
    for value, label in [(5, "Excellent"), (4, "Good"), (3, "Fair"), (2, "Poor"), (1, "Bad")]:
        assert f'<input type="radio" name="score" id="score-{value}" value="{value}"' in html
        assert f'<label for="score-{value}"><strong>{value}</strong> {label}</label>' in html
    assert 'id="submit" disabled' in html
    assert html.count("<video") == 1


def test_it_stores_a_rating_and_redirects_to_the_next_clip(client, rater):
    first = rater.current()
    response = rater.rate(first, 4)
    assert response.status_code == 302 and response["Location"] == rater.url("rate")
    rating = Rating.objects.get()
    assert (rating.assignment_id, rating.score, rating.played_to_end) == (first.pk, 4, True)
    assert rating.time_on_page_ms is not None
    assert "Clip 2 of 6" in client.get(rater.url("rate")).content.decode()


def test_it_refuses_a_clip_rated_before_it_was_played(client, rater):
    before = snapshot()
    response = rater.rate(rater.current(), 3, play=False)
    assert response.status_code == 409 and b"Please play the clip to the end" in response.content
    assert snapshot() == before


def test_it_flags_a_clip_rated_before_it_was_played_when_so_configured(client, rater, settings):
    settings.RATING_TOO_FAST = "flag"
    rater.rate(rater.current(), 3, play=False)
    rating = Rating.objects.get()
    assert (rating.played_to_end, rating.too_fast) == (False, True)


def test_it_records_when_a_clip_played_to_its_end(client, rater):
    assignment = rater.current()
    assert rater.played(assignment).status_code == 409  # never started: it cannot have ended
    rater.start(assignment)
    assert rater.played(assignment).status_code == 204
    assert rater.played(assignment).status_code == 204
    assignment.refresh_from_db()
    assert assignment.played_to_end_at is not None and assignment.play_count == 2


def test_it_resumes_at_the_first_unrated_clip_after_a_reload(client, rater):
    for score in (5, 1):
        rater.rate(rater.current(), score)
    third = rater.current()
    assert third.position == 2
    fresh = Client()  # lost connection, new browser: the resume link on the page brings them back
    resume = rater.url("entry", resume=rater.participant.token)
    assert resume in client.get(rater.url("rate")).content.decode()
    fresh.get(resume)
    html = fresh.get(rater.url("rate")).content.decode()
    assert "Clip 3 of 6" in html and str(third.stimulus.token) in html


@pytest.mark.parametrize("score", ["0", "6", "-1", "3.5", "abc", ""])
def test_it_refuses_a_score_outside_one_to_five(client, rater, score):
    before = snapshot()
    response = rater.rate(rater.current(), score, play=False)
    assert response.status_code == 400
    assert b"1 (Bad) to 5 (Excellent)" in response.content
    assert snapshot() == before


def test_it_refuses_a_submission_without_a_participant_session(client, rater):
    before = snapshot()
    stranger = Client()
    response = stranger.post(rater.url("rate"), {"clip": str(rater.current().stimulus.token), "score": 3})
    assert response.status_code == 403 and b"missing or unknown participant token" in response.content
    assert snapshot() == before


def test_it_refuses_a_forged_participant_token(client, rater):
    from evalsite.rating.session import cookie_name

    from .conftest import signed_cookie

    before = snapshot()
    assignment = rater.current()
    name = cookie_name(rater.slug)
    real = client.cookies[name].value
    forged_signature = real[:-4] + ("AAAA" if not real.endswith("AAAA") else "BBBB")
    unknown_token = signed_cookie(rater.slug, "made-up-token")
    for value in (forged_signature, unknown_token, ""):
        client.cookies[name] = value
        response = rater.rate(assignment, 3, play=False)
        assert response.status_code == 403 and b"missing or unknown participant token" in response.content
    assert snapshot() == before


def test_it_refuses_a_stimulus_assigned_to_another_participant(client, rivals):
    rater, _, theirs = rivals
    before = snapshot()
    assert rater.played(theirs).status_code == 403
    response = rater.rate(theirs, 3, play=False)
    assert response.status_code == 403 and b"not in your list" in response.content
    assert snapshot() == before


def test_it_refuses_a_training_clip_or_an_unknown_clip_id(client, rater):
    before = snapshot()
    training = rater.experiment.stimuli.get(role="training")
    response = client.post(rater.url("rate"), {"clip": str(training.token), "score": 3})
    assert response.status_code == 403
    response = client.post(rater.url("rate"), {"clip": "not-a-uuid", "score": 3})
    assert response.status_code == 400 and b"the clip field" in response.content
    assert snapshot() == before


def test_it_refuses_a_second_submission_with_another_score(client, rater):
    first = rater.current()
    rater.rate(first, 2)
    before = snapshot()
    response = rater.rate(first, 5, play=False)  # the same clip again, with another score
    assert response.status_code == 409 and b"already rated" in response.content
    assert snapshot() == before
    assert Rating.objects.get().score == 2


def test_it_answers_a_resent_submission_as_the_first_time(client, rater):
    # The first answer was lost (connection dropped) and the browser sends the same POST again.
    first = rater.current()
    assert rater.rate(first, 2)["Location"] == rater.url("rate")
    before = snapshot()
    response = rater.rate(first, 2, play=False)
    assert response.status_code == 302 and response["Location"] == rater.url("rate")
    assert snapshot() == before
    assert "Clip 2 of 6" in client.get(rater.url("rate")).content.decode()


def test_it_refuses_a_clip_out_of_order(client, rater):
    before = snapshot()
    later = rater.participant.assignments.order_by("position")[3]
    response = rater.rate(later, 3, play=False)
    assert response.status_code == 409 and b"in the order" in response.content
    assert snapshot() == before


def test_it_refuses_ratings_once_the_study_is_closed(client, rater):
    assignment = rater.current()
    Experiment.objects.filter(pk=rater.experiment.pk).update(status=Experiment.Status.CLOSED)
    before = snapshot()
    assert rater.played(assignment).status_code == 403
    response = rater.rate(assignment, 3, play=False)
    assert response.status_code == 403 and b"This study is closed" in response.content
    assert snapshot() == before


def test_it_refuses_a_post_without_csrf_token(rater):
    browser = Client(enforce_csrf_checks=True)
    browser.cookies = rater.client.cookies
    before = snapshot()
    response = browser.post(rater.url("rate"), {"clip": str(rater.current().stimulus.token), "score": 3})
    assert response.status_code == 403 and b"CSRF" in response.content
    assert snapshot() == before


def test_it_refuses_to_rate_before_the_audio_check_and_instructions(client, make_study, walk):
    w = walk(make_study())
    w.consent()
    assignment = w.participant.assignments.first()
    response = w.rate(assignment, 3, play=False)
    assert response.status_code == 409 and b"audio check" in response.content
    assert client.get(w.url("rate"))["Location"] == w.url("audio_check")
    assert not Rating.objects.exists()


@pytest.mark.postgres
def test_it_stores_exactly_one_of_many_simultaneous_submissions(transactional_db, rater):
    import threading

    from django.db import connection
    from django.http import HttpRequest

    from evalsite.rating.refused import Refused
    from evalsite.rating.submission import submit_rating

    rater.start(rater.current())
    token = rater.current().stimulus.token
    request = HttpRequest()
    request.COOKIES = {key: morsel.value for key, morsel in rater.client.cookies.items()}
    barrier = threading.Barrier(8)
    outcomes = []

    def submit(score):
        try:
            barrier.wait()
            submit_rating(request, rater.slug, token, score)
            outcomes.append("stored")
        except Refused as refused:
            outcomes.append(refused.status)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit, args=(1 + i % 5,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stored = Rating.objects.get(assignment__stimulus__token=token).score
    # Every submission of the stored score is answered as stored (a resend), every other refused.
    same = sum(1 for i in range(8) if 1 + i % 5 == stored)
    assert sorted(outcomes, key=str) == [409] * (8 - same) + ["stored"] * same


def test_it_shows_the_completion_code_once_every_clip_is_rated(client, rater):
    assert client.get(rater.url("done"))["Location"] == rater.url("rate")
    for _ in range(6):
        assert rater.rate(rater.current(), 3).status_code == 302
    response = client.get(rater.url("rate"))
    assert response["Location"] == rater.url("done")
    page = client.get(rater.url("done"))
    assert b'id="completion-code"' in page.content and b"C0DE-42" in page.content
    assert rater.participant.finished_at is not None
    assert Rating.objects.count() == 6


def test_it_gives_each_participant_a_personal_code_beside_the_studys_checkable_in_the_export(
    client, make_study, walk
):
    from evalsite.experiments.exports import csv_rows

    experiment = make_study(slug="codes")
    codes = []
    for browser in (client, Client()):
        w = walk(experiment, browser)
        w.to_rating()
        while (assignment := w.current()) is not None:
            w.rate(assignment, 4)
        html = browser.get(w.url("done")).content.decode()
        code = w.participant.completion_code
        assert re.fullmatch(r"[0-9A-HJ-NP-Z]{4}-[0-9A-HJ-NP-Z]{4}", code)
        assert f'<strong id="personal-code" class="code">{code}</strong>' in html
        assert 'id="completion-code" class="code">C0DE-42<' in html  # the study's code, for the platform
        assert code in browser.get(w.url("done")).content.decode()  # kept, not drawn again
        codes.append(code)
    assert codes[0] != codes[1]
    header, *rows = list(csv_rows(experiment))
    exported = {row[header.index("completion_code")] for row in rows}
    assert sorted(exported) == sorted(codes)  # each participant's rows carry their code


def test_it_sends_the_participant_back_to_the_crowd_platform(client, make_study, walk):
    w = walk(make_study(redirect_url="https://app.prolific.com/submissions/complete?cc=XYZ", slug="r"))
    w.to_rating()
    while (assignment := w.current()) is not None:
        w.rate(assignment, 4)
    html = client.get(w.url("done")).content.decode()
    assert 'http-equiv="refresh" content="5;url=https://app.prolific.com/submissions/complete?cc=XYZ"' in html
    assert 'href="https://app.prolific.com/submissions/complete?cc=XYZ"' in html


def test_the_service_stores_a_rating_and_refuses_by_the_same_rules(client, rater):
    from django.http import HttpRequest

    from evalsite.rating.refused import Refused
    from evalsite.rating.submission import submit_rating

    request = HttpRequest()
    request.COOKIES = {key: morsel.value for key, morsel in client.cookies.items()}
    first = rater.current()
    client.get(rater.url("rate"))  # shown
    rater.start(first)
    rater.played(first)
    submit_rating(request, rater.slug, first.stimulus.token, 4)
    rating = Rating.objects.get()
    assert (rating.assignment_id, rating.score, rating.played_to_end) == (first.pk, 4, True)
    assert 0 <= rating.time_on_page_ms < 60_000
    third = rater.participant.assignments.get(position=2)
    with pytest.raises(Refused, match="in the order"):
        submit_rating(request, rater.slug, third.stimulus.token, 4)
    with pytest.raises(Refused, match="already rated"):
        submit_rating(request, rater.slug, first.stimulus.token, 1)
    assert submit_rating(request, rater.slug, first.stimulus.token, 4) == rating.pk
    assert Rating.objects.count() == 1


def test_it_presents_training_clips_as_examples_of_a_good_and_a_poor_match(client, make_study, walk):
    from evalsite.experiments.models import Stimulus

    experiment = make_study(training=3, slug="train")
    kinds = ["original", "random", "gold"]
    for i, stimulus in enumerate(Stimulus.objects.filter(role="training").order_by("pk")):
        Stimulus.objects.filter(pk=stimulus.pk).update(control_kind=kinds[i], label=f"training {i + 1}")
    w = walk(experiment)
    w.consent()
    w.audio_check()
    html = client.get(w.url("training")).content.decode()
    titles = ["An example of a good match", "An example of a sound picked at random",
              "An example of a poor match"]
    assert [html.index(t) for t in titles] == sorted(html.index(t) for t in titles)
    assert "deserves 4 (Good) or 5 (Excellent)" in html and "deserves 1 (Bad)" in html
    assert 'aria-label="Example 1: An example of a good match"' in html
