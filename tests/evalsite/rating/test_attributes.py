"""Optional questions per clip (audio quality, synchrony): asked, required, stored, or ignored."""

import pytest
from django.http import HttpRequest

from evalsite.rating.models import Rating
from evalsite.rating.refused import Refused
from evalsite.rating.submission import submit_rating


@pytest.fixture
def multi(client, make_study, walk):
    w = walk(make_study(slug="multi", ask_quality=True, ask_sync=True))
    w.to_rating()
    return w


def post(w, assignment, **answers):
    w.start(assignment)
    w.played(assignment)
    return w.client.post(w.url("rate"), {"clip": str(assignment.stimulus.token), **answers})


def test_the_page_asks_each_configured_question_on_the_five_point_scale(client, multi):
    html = client.get(multi.url("rate")).content.decode()
    for field, question in [
        ("score", "How well does the sound suit the video?"),
        ("quality", "How good is the audio quality?"),
        ("sync", "How well are the sound and the picture in sync?"),
    ]:
        assert f'<fieldset id="question-{field}"' in html and f"<legend>{question}</legend>" in html
        for value in range(1, 6):
            radio = f'<input type="radio" name="{field}" id="{field}-{value}" value="{value}" required>'
            assert radio in html


def test_it_stores_every_answer_of_one_clip_in_one_rating(client, multi):
    first = multi.current()
    response = post(multi, first, score=4, quality=2, sync=5)
    assert response.status_code == 302
    rating = Rating.objects.get()
    assert (rating.assignment_id, rating.score, rating.quality, rating.sync) == (first.pk, 4, 2, 5)


def test_a_rating_without_an_asked_answer_is_refused_and_nothing_stored(client, multi):
    request = HttpRequest()
    request.COOKIES = {key: morsel.value for key, morsel in client.cookies.items()}
    current = multi.current()
    multi.start(current)
    multi.played(current)
    token = current.stimulus.token
    with pytest.raises(Refused, match="How well are the sound and the picture in sync"):
        submit_rating(request, multi.slug, token, 4, {"quality": 3, "sync": None})
    assert not Rating.objects.exists()


def test_a_resend_with_other_attribute_answers_is_refused_and_the_first_kept(client, multi):
    first = multi.current()
    assert post(multi, first, score=4, quality=2, sync=5).status_code == 302

    def resend(**answers):
        return client.post(multi.url("rate"), {"clip": str(first.stimulus.token), "score": 4, **answers})

    for other in ({"quality": 3, "sync": 5}, {"quality": 2, "sync": 1}):
        response = resend(**other)
        assert response.status_code == 409 and b"already rated" in response.content
    # The very answer stored: a resend whose response was lost, answered as the first time.
    assert resend(quality=2, sync=5).status_code == 302
    rating = Rating.objects.get()
    assert (rating.score, rating.quality, rating.sync) == (4, 2, 5)


def test_a_missing_answer_through_the_page_names_the_question(client, multi):
    response = post(multi, multi.current(), score=4, sync=2)
    assert response.status_code == 400
    assert "How good is the audio quality?" in response.content.decode()
    assert not Rating.objects.exists()


def test_a_bad_answer_is_refused_with_the_attribute_named(client, multi):
    response = post(multi, multi.current(), score=4, quality=9, sync=2)
    assert response.status_code == 400
    assert "audio quality score must be a whole number from 1 (Bad) to 5 (Excellent), got 9" in (
        response.content.decode()
    )
    assert not Rating.objects.exists()


def test_an_experiment_that_does_not_ask_ignores_the_answers(client, make_study, walk):
    w = walk(make_study(slug="plain"))
    w.to_rating()
    html = client.get(w.url("rate")).content.decode()
    assert 'name="quality"' not in html and 'name="sync"' not in html
    assert post(w, w.current(), score=3, quality=5).status_code == 302
    rating = Rating.objects.get()
    assert (rating.score, rating.quality, rating.sync) == (3, None, None)
