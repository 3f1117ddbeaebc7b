"""Blind clip URLs: only for a participant who has the clip, with byte ranges for seeking."""

import pytest
from django.test import Client
from django.urls import reverse


@pytest.fixture
def rater(client, make_study, walk):
    w = walk(make_study())
    w.to_rating()
    return w


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def test_it_serves_the_whole_clip_to_its_participant(client, rater, clip_file):
    response = client.get(reverse("rating:clip", args=[rater.current().stimulus.token]))
    assert response.status_code == 200
    assert response["Content-Type"] == "video/mp4" and response["Accept-Ranges"] == "bytes"
    assert body(response) == clip_file.read_bytes()
    assert int(response["Content-Length"]) == clip_file.stat().st_size


@pytest.mark.parametrize(
    ("header", "first", "last"), [("bytes=0-99", 0, 99), ("bytes=100-", 100, None), ("bytes=-50", None, None)]
)
def test_it_answers_a_byte_range_with_206(client, rater, clip_file, header, first, last):
    data = clip_file.read_bytes()
    size = len(data)
    first = size - 50 if first is None else first
    last = size - 1 if last is None else last
    url = reverse("rating:clip", args=[rater.current().stimulus.token])
    response = client.get(url, HTTP_RANGE=header)
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes {first}-{last}/{size}"
    assert body(response) == data[first : last + 1]


def test_it_answers_416_for_a_range_beyond_the_file(client, rater, clip_file):
    size = clip_file.stat().st_size
    url = reverse("rating:clip", args=[rater.current().stimulus.token])
    response = client.get(url, HTTP_RANGE=f"bytes={size}-")
    assert response.status_code == 416 and response["Content-Range"] == f"bytes */{size}"


def test_it_refuses_the_clip_to_a_browser_without_the_participant_session(rater):
    response = Client().get(reverse("rating:clip", args=[rater.current().stimulus.token]))
    assert response.status_code == 403


def test_it_refuses_a_clip_not_assigned_to_the_participant(client, rivals):
    _, other, assignment = rivals
    theirs = assignment.stimulus
    assert client.get(reverse("rating:clip", args=[theirs.token])).status_code == 403
    assert other.client.get(reverse("rating:clip", args=[theirs.token])).status_code == 200


def test_it_serves_training_clips_to_any_participant_of_the_study(client, rater):
    training = rater.experiment.stimuli.get(role="training")
    assert client.get(reverse("rating:clip", args=[training.token])).status_code == 200


def test_it_answers_404_for_an_unknown_clip(client, rater):
    assert client.get("/clip/00000000-0000-0000-0000-000000000000").status_code == 404


def test_it_reveals_no_method_in_the_page_the_url_or_the_headers(client, rater):
    page = client.get(rater.url("rate")).content.decode()
    response = client.get(reverse("rating:clip", args=[rater.current().stimulus.token]))
    visible = page + " ".join(f"{k}: {v}" for k, v in response.items())
    for method in rater.experiment.methods.all():
        assert method.label not in visible and method.kind not in visible
    assert rater.current().stimulus.file.name not in visible
    assert "filename" not in response["Content-Disposition"] and "Last-Modified" not in response


def test_it_stamps_the_media_as_served_only_when_a_get_sends_its_bytes(client, rater, clip_file):
    assignment = rater.current()
    url = reverse("rating:clip", args=[assignment.stimulus.token])
    size = clip_file.stat().st_size
    assert client.head(url).status_code == 200  # a HEAD downloads nothing
    assert client.get(url, HTTP_RANGE=f"bytes={size}-").status_code == 416  # nor does this range
    assignment.refresh_from_db()
    assert assignment.media_served_at is None
    assert body(client.get(url, HTTP_RANGE="bytes=0-99")) == clip_file.read_bytes()[:100]
    assignment.refresh_from_db()
    assert assignment.media_served_at is not None
