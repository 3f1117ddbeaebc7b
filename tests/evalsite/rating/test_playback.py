"""The minimum listening time: the server's clock from the start of playback to the rating."""

import datetime

import pytest
from django.db.models import F
from django.urls import reverse

from evalsite.experiments.models import Stimulus
from evalsite.rating.models import Assignment, Rating


@pytest.fixture
def rater(client, make_study, walk, settings):
    settings.RATING_PLAY_TOLERANCE_S = 0.5
    w = walk(make_study(slug="timed"))
    w.to_rating()
    return w


def ago(seconds):
    return datetime.timedelta(seconds=seconds)


def lasting(assignment, seconds):
    Stimulus.objects.filter(pk=assignment.stimulus_id).update(duration=seconds)
    return assignment


def test_it_refuses_a_rating_sent_sooner_than_the_clip_lasts(client, rater):
    from django.http import HttpRequest

    from evalsite.rating.refused import Refused
    from evalsite.rating.submission import submit_rating

    first = lasting(rater.current(), 6.4)
    client.get(rater.url("rate"))
    assert rater.start(first).status_code == 204
    assert rater.played(first).status_code == 409  # the page's claim of the end is checked too
    request = HttpRequest()
    request.COOKIES = {key: morsel.value for key, morsel in client.cookies.items()}
    with pytest.raises(Refused) as refused:
        submit_rating(request, rater.slug, first.stimulus.token, 4)
    assert refused.value.status == 409
    assert "it lasts 6.4 s. Please play it to the end" in refused.value.message
    assert not Rating.objects.exists()


def test_it_answers_a_fast_post_with_a_clear_message_on_the_rating_page(client, rater):
    first = lasting(rater.current(), 6.4)
    response = rater.rate(first, 4)
    assert response.status_code == 409
    assert b"but it lasts 6.4 s. Please play it to the end, then rate it." in response.content
    assert not Rating.objects.exists()


def test_it_stores_a_rating_sent_once_the_clip_had_time_to_play(client, rater):
    first = lasting(rater.current(), 1.0)
    rater.start(first)
    # Playback began 0.55 s ago by the server's clock: the duration less the 0.5 s tolerance.
    began = {f: F(f) - ago(0.55) for f in ("playback_started_at", "media_served_at")}
    Assignment.objects.filter(pk=first.pk).update(**began)
    assert rater.played(first).status_code == 204
    response = client.post(rater.url("rate"), {"clip": str(first.stimulus.token), "score": 4})
    assert response.status_code == 302
    rating = Rating.objects.get()
    assert (rating.score, rating.played_to_end, rating.too_fast) == (4, True, False)


def test_it_flags_a_fast_rating_for_screening_when_so_configured(client, rater, settings):
    from evalsite.experiments.exports import csv_rows
    from evalsite.experiments.results import was_played

    settings.RATING_TOO_FAST = "flag"
    first = lasting(rater.current(), 6.4)
    assert rater.rate(first, 4).status_code == 302
    rating = Rating.objects.get()
    assert (rating.played_to_end, rating.too_fast) == (True, True)
    assert not was_played(rating)
    header, row = list(csv_rows(rater.experiment))[:2]
    assert row[header.index("played_to_end")] == 0


def test_it_counts_from_the_first_start(client, rater):
    first = rater.current()
    rater.start(first)
    started = Assignment.objects.get(pk=first.pk).playback_started_at
    assert started is not None and Assignment.objects.get(pk=first.pk).media_served_at <= started
    rater.start(first)  # a replay does not restart the clock
    assert Assignment.objects.get(pk=first.pk).playback_started_at == started


def test_it_takes_a_start_that_arrives_before_the_media_and_counts_from_the_media(client, rater):
    first = lasting(rater.current(), 6.4)
    token = str(first.stimulus.token)
    response = client.post(rater.url("started"), {"clip": token})  # the media request still on its way
    assert response.status_code == 204
    assert Assignment.objects.get(pk=first.pk).playback_started_at is not None
    # However long ago /started/ came, playback cannot have begun before the media was served.
    Assignment.objects.filter(pk=first.pk).update(playback_started_at=F("playback_started_at") - ago(60))
    media = client.get(reverse("rating:clip", args=[token]))
    b"".join(media.streaming_content)
    rater.played(first)
    response = client.post(rater.url("rate"), {"clip": token, "score": 4})
    assert response.status_code == 409 and b"but it lasts 6.4 s" in response.content
    assert not Rating.objects.exists()
    Assignment.objects.filter(pk=first.pk).update(media_served_at=F("media_served_at") - ago(7))
    assert client.post(rater.url("rate"), {"clip": token, "score": 4}).status_code == 302
    assert Rating.objects.get().score == 4


def test_it_refuses_a_played_claim_sooner_than_the_clip_lasts(client, rater):
    first = lasting(rater.current(), 6.4)
    rater.start(first)
    response = rater.played(first)  # a few ms after /started/
    assert response.status_code == 409
    assert b"but it lasts 6.4 s. Please press Replay and play it to the end." in response.content
    assert response["Retry-After"] == "6"  # 6.4 s less the 0.5 s tolerance, from the start
    assignment = Assignment.objects.get(pk=first.pk)
    assert (assignment.played_to_end_at, assignment.play_count) == (None, 0)
    # Once the clip had time to play, the same claim is taken.
    began = F("playback_started_at") - ago(7)
    Assignment.objects.filter(pk=first.pk).update(playback_started_at=began, media_served_at=began)
    assert rater.played(first).status_code == 204
    assert Assignment.objects.get(pk=first.pk).play_count == 1


def test_it_refuses_a_played_claim_for_a_clip_whose_media_was_only_asked_with_head(client, rater):
    first = lasting(rater.current(), 6.4)
    token = str(first.stimulus.token)
    assert client.head(reverse("rating:clip", args=[token])).status_code == 200
    assert client.post(rater.url("started"), {"clip": token}).status_code == 204
    Assignment.objects.filter(pk=first.pk).update(playback_started_at=F("playback_started_at") - ago(7))
    response = rater.played(first)
    assert response.status_code == 409 and b"Please play the clip to the end" in response.content
    assert "Retry-After" not in response  # no time makes up for media that was never sent
    response = client.post(rater.url("rate"), {"clip": token, "score": 4})
    assert response.status_code == 409 and b"Please play the clip to the end" in response.content
    assert not Rating.objects.exists()


def test_it_flags_a_rating_whose_played_claim_came_too_soon_when_so_configured(client, rater, settings):
    from evalsite.experiments.results import was_played

    settings.RATING_TOO_FAST = "flag"
    first = lasting(rater.current(), 6.4)
    rater.start(first)
    assert rater.played(first).status_code == 204  # taken, and remembered as too soon
    # The rating itself comes late enough after the start; the claim of the end did not.
    moved = {f: F(f) - ago(7) for f in ("playback_started_at", "media_served_at", "played_to_end_at")}
    Assignment.objects.filter(pk=first.pk).update(**moved)
    response = client.post(rater.url("rate"), {"clip": str(first.stimulus.token), "score": 4})
    assert response.status_code == 302
    rating = Rating.objects.get()
    assert (rating.played_to_end, rating.too_fast) == (True, True)
    assert not was_played(rating)
