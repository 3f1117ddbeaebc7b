import pytest
from django.urls import reverse

from evalsite.experiments.models import Experiment, Stimulus
from evalsite.rating.models import Assignment, Participant

from .conftest import cookie_token


def test_it_shows_the_consent_page_and_creates_nobody_on_get(client, make_study):
    experiment = make_study()
    response = client.get(reverse("rating:entry", args=[experiment.slug]) + "?PROLIFIC_PID=p1")
    assert response.status_code == 200
    assert b'name="consent"' in response.content and b"?PROLIFIC_PID=p1" in response.content
    assert not Participant.objects.exists()


def test_it_enrolls_a_prolific_participant_with_all_entry_parameters(client, make_study, walk):
    experiment = make_study()
    participant = walk(experiment).consent(PROLIFIC_PID="abc", STUDY_ID="s9", SESSION_ID="x1", lang="de")
    assert (participant.platform, participant.external_id) == ("prolific", "abc")
    assert (participant.study_id, participant.session_id) == ("s9", "x1")
    assert participant.params == {"PROLIFIC_PID": "abc", "STUDY_ID": "s9", "SESSION_ID": "x1", "lang": "de"}
    assert participant.consented_at is not None and participant.sequence == 0
    # full design: 2 videos x 2 methods + 1 gold + 1 trap, training clips not assigned
    roles = sorted(participant.assignments.values_list("stimulus__role", flat=True))
    assert roles == ["gold", "test", "test", "test", "test", "trap"]
    assert list(participant.assignments.values_list("position", flat=True)) == [0, 1, 2, 3, 4, 5]


def test_it_records_mturk_parameters(client, make_study, walk):
    participant = walk(make_study()).consent(workerId="W1", hitId="H1", assignmentId="A1")
    assert (participant.platform, participant.external_id, participant.study_id, participant.session_id) == (
        "mturk",
        "W1",
        "H1",
        "A1",
    )


def test_it_resumes_a_returning_crowd_worker_instead_of_creating_a_second_one(client, make_study, walk):
    from django.test import Client

    experiment = make_study()
    first = walk(experiment).consent(PROLIFIC_PID="same")
    other_browser = Client()
    response = other_browser.get(reverse("rating:entry", args=[experiment.slug]) + "?PROLIFIC_PID=same")
    assert response.status_code == 302 and response["Location"].endswith("/audio-check/")
    assert cookie_token(other_browser, experiment.slug) == first.token
    response = other_browser.post(
        reverse("rating:entry", args=[experiment.slug]) + "?PROLIFIC_PID=same", {"consent": "on"}
    )
    assert Participant.objects.count() == 1 and Assignment.objects.count() == 6


def test_it_refuses_to_start_without_consent(client, make_study):
    experiment = make_study()
    response = client.post(reverse("rating:entry", args=[experiment.slug]), {})
    assert response.status_code == 400
    assert b"Please tick the box to agree" in response.content
    assert not Participant.objects.exists()


def test_it_refuses_a_closed_or_draft_study(client, make_study):
    for status, slug, says in [(Experiment.Status.CLOSED, "closed", b"This study is closed"),
                               (Experiment.Status.DRAFT, "draft", b"This study is not open yet")]:
        experiment = make_study(slug=slug, status=status)
        url = reverse("rating:entry", args=[experiment.slug])
        assert client.get(url).status_code == 403
        response = client.post(url, {"consent": "on"})
        assert response.status_code == 403 and says in response.content, slug
    assert b"<h1>Not open yet</h1>" in client.get(reverse("rating:entry", args=["draft"])).content
    assert not Participant.objects.exists()


def test_it_answers_404_for_an_unknown_study(client, db):
    assert client.get("/s/no-such-study/").status_code == 404


def test_it_refuses_a_study_with_no_clips_ready(client, make_study):
    experiment = make_study()
    experiment.stimuli.update(status=Stimulus.Status.RUNNING)
    response = client.post(reverse("rating:entry", args=[experiment.slug]), {"consent": "on"})
    assert response.status_code == 503 and b"no clips ready" in response.content
    assert not Participant.objects.exists()


def test_it_refuses_new_participants_once_the_study_is_full(client, make_study):
    from django.utils import timezone

    experiment = make_study(participants_wanted=1)
    Participant.objects.create(experiment=experiment, sequence=0, finished_at=timezone.now())
    response = client.post(reverse("rating:entry", args=[experiment.slug]), {"consent": "on"})
    assert response.status_code == 403 and b"all the participants it needs" in response.content
    assert Participant.objects.count() == 1


def test_it_resumes_from_a_resume_link_and_refuses_a_forged_one(client, make_study, walk):
    from django.test import Client

    experiment = make_study()
    participant = walk(experiment).consent()
    url = reverse("rating:entry", args=[experiment.slug])
    browser = Client()
    assert browser.get(url + "?resume=forged-token").status_code == 403
    assert cookie_token(browser, experiment.slug) is None
    response = browser.get(url + f"?resume={participant.token}")
    assert response.status_code == 302
    assert cookie_token(browser, experiment.slug) == participant.token


def test_it_gives_participants_consecutive_latin_square_rows(client, make_study):
    from django.test import Client

    experiment = make_study(design=Experiment.Design.BALANCED, gold=0, trap=0)
    for _ in range(2):
        Client().post(reverse("rating:entry", args=[experiment.slug]), {"consent": "on"})
    rows = [
        sorted(p.assignments.values_list("stimulus__video__name", "stimulus__method__order"))
        for p in Participant.objects.order_by("sequence")
    ]
    assert rows == [[("video 0", 0), ("video 1", 1)], [("video 0", 1), ("video 1", 0)]]


def test_it_shows_an_mturk_preview_without_enrolling_anyone(client, make_study):
    experiment = make_study()
    preview = "?assignmentId=ASSIGNMENT_ID_NOT_AVAILABLE&hitId=H1"
    url = reverse("rating:entry", args=[experiment.slug]) + preview
    page = client.get(url)
    assert page.status_code == 200 and b'id="preview-notice"' in page.content
    assert b'name="consent"' not in page.content
    response = client.post(url, {"consent": "on"})
    assert response.status_code == 409 and b"accept the HIT" in response.content
    assert not Participant.objects.exists()


@pytest.mark.postgres
def test_it_enrolls_a_crowd_worker_once_when_tabs_consent_at_the_same_moment(transactional_db, make_study):
    import threading

    from django.db import connection

    from evalsite.rating import enrolment

    experiment = make_study()
    entry = enrolment.entry_params({"PROLIFIC_PID": "twice"})
    barrier = threading.Barrier(6)
    tokens = []

    def consent():
        try:
            barrier.wait()
            tokens.append(enrolment.enroll(experiment, entry).token)
        finally:
            connection.close()

    threads = [threading.Thread(target=consent) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(tokens) == 6 and len(set(tokens)) == 1
    assert Participant.objects.count() == 1 and Assignment.objects.count() == 6


def test_it_stores_crowd_ids_whole_and_refuses_longer_ones(client, make_study, walk):
    from evalsite.rating.models import CROWD_ID_LENGTH

    experiment = make_study()
    # Two ids that share their first 199 characters are two people.
    first = walk(experiment, client.__class__()).consent(PROLIFIC_PID="p" * (CROWD_ID_LENGTH - 1) + "a")
    second = walk(experiment, client.__class__()).consent(PROLIFIC_PID="p" * (CROWD_ID_LENGTH - 1) + "b")
    assert first.pk != second.pk and len(first.external_id) == CROWD_ID_LENGTH == 200
    url = reverse("rating:entry", args=[experiment.slug])
    for name in ("PROLIFIC_PID", "workerId", "assignmentId"):
        response = client.post(f"{url}?{name}={'q' * (CROWD_ID_LENGTH + 1)}", {"consent": "on"})
        assert response.status_code == 400
        assert f"The {name} in this link is longer than 200 characters".encode() in response.content
    assert Participant.objects.count() == 2


@pytest.mark.postgres
def test_it_enrolls_simultaneous_participants_with_distinct_dense_arrival_numbers(transactional_db,
                                                                                  make_study):
    import threading

    from django.db import connection

    from evalsite.rating import enrolment

    experiment = make_study(design=Experiment.Design.BALANCED)
    barrier = threading.Barrier(12)

    def consent(i):
        try:
            barrier.wait()
            enrolment.enroll(experiment, enrolment.entry_params({"PROLIFIC_PID": f"p{i}"}))
        finally:
            connection.close()

    threads = [threading.Thread(target=consent, args=(i,)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(Participant.objects.values_list("sequence", flat=True)) == list(range(12))
    experiment.refresh_from_db()
    assert experiment.next_sequence == 12
    for participant in Participant.objects.all():  # each list is the plan of its arrival number
        planned = [c.pk for c in enrolment.assignment_plan(experiment, participant.sequence)]
        assigned = participant.assignments.order_by("position").values_list("stimulus", flat=True)
        assert list(assigned) == planned


def test_it_answers_head_on_the_entry_link_like_get_and_creates_nobody(client, make_study):
    experiment = make_study()
    response = client.head(reverse("rating:entry", args=[experiment.slug]) + "?PROLIFIC_PID=p1")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")
    assert response.content == b""
    assert not Participant.objects.exists()
