"""A NUL character (%00) in anything a participant's browser sends: PostgreSQL stores no NUL in
text, so every such input is refused with a clear 400 before anything is written."""

import html

import pytest
from django.test import Client
from django.urls import reverse

from evalsite.rating.models import Assignment, Participant, Rating

pytestmark = pytest.mark.postgres

# The entry link's parameters: each crowd id, the other parameters kept, a parameter's name, resume.
LINKS = [
    ("PROLIFIC_PID=p%00x&STUDY_ID=s", "PROLIFIC_PID"),
    ("PROLIFIC_PID=p&STUDY_ID=s%00", "STUDY_ID"),
    ("PROLIFIC_PID=p&SESSION_ID=%00", "SESSION_ID"),
    ("workerId=W%001&hitId=H&assignmentId=A", "workerId"),
    ("workerId=W&hitId=H%00&assignmentId=A", "hitId"),
    ("workerId=W&hitId=H&assignmentId=A%00", "assignmentId"),
    ("workerId=W&hitId=H&assignmentId=A&turkSubmitTo=https://www.mturk.com%00", "turkSubmitTo"),
    ("PROLIFIC_PID=p&lang=d%00e", "lang"),
    ("PROLIFIC_PID=p&la%00ng=de", "la%00ng"),
    ("resume=%00", "resume"),
]


@pytest.fixture
def browser():
    return Client(raise_request_exception=False)  # a 500 is an answer to check, as a browser sees it


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize(("query", "name"), LINKS)
def test_it_refuses_a_nul_in_an_entry_link_parameter(browser, make_study, method, query, name):
    experiment = make_study()
    url = reverse("rating:entry", args=[experiment.slug]) + "?" + query
    response = getattr(browser, method)(url, {"consent": "on"} if method == "post" else None)
    assert response.status_code == 400
    assert f'The link parameter "{name}" contains a NUL character (%00)' in html.unescape(response.text)
    assert not Participant.objects.exists()


def test_it_refuses_a_nul_in_every_field_of_the_participant_forms(browser, make_study, walk):
    rater = walk(make_study(ask_quality=True), browser)
    # A tick is a tick: the consent box's value is not stored.
    assert browser.post(rater.url("entry"), {"consent": "on\x00"}).status_code == 302
    participant = rater.participant
    browser.get(rater.url("audio_check"))
    response = browser.post(rater.url("audio_check"), {"answer": "1\x002"})
    assert response.status_code == 400 and b"Null characters are not allowed." in response.content
    participant.refresh_from_db()
    assert (participant.audio_check_attempts, participant.audio_check_answer) == (0, "")
    rater.audio_check()
    rater.training()
    assignment = rater.current()
    token = str(assignment.stimulus.token)
    rater.start(assignment)
    for name in ("started", "played"):
        response = browser.post(rater.url(name), {"clip": token + "\x00"})
        assert response.status_code == 400
        assert b"The clip id in the form (the clip field) is not valid" in response.content
    forms = [({"clip": token + "\x00", "score": "4", "quality": "3"}, b"The clip id in the form"),
             ({"clip": token, "score": "4\x00", "quality": "3"}, b"The score must be a whole number"),
             ({"clip": token, "score": "4", "quality": "3\x00"}, b"The audio quality score must be")]
    for form, message in forms:
        response = browser.post(rater.url("rate"), form)
        assert response.status_code == 400 and message in response.content
    assert not Rating.objects.exists()
    assert Assignment.objects.get(pk=assignment.pk).played_to_end_at is None


def test_it_enrolls_a_browser_whose_user_agent_holds_a_nul_marking_the_character(browser, make_study):
    experiment = make_study()
    url = reverse("rating:entry", args=[experiment.slug]) + "?PROLIFIC_PID=ua"
    response = browser.post(url, {"consent": "on"}, HTTP_USER_AGENT="Bot/1.0\x00x")
    assert response.status_code == 302
    assert Participant.objects.get().user_agent == "Bot/1.0\ufffdx"
