"""The step gate: each page shows only on its step, and an action of another step is refused."""

from evalsite.rating.models import Participant


def test_it_sends_a_page_of_another_step_to_the_participants_own(client, make_study, walk):
    w = walk(make_study())
    w.consent()
    for page in ("training", "rate", "done"):
        assert client.get(w.url(page))["Location"] == w.url("audio_check"), page
    w.audio_check()
    for page in ("audio_check", "rate", "done"):
        assert client.get(w.url(page))["Location"] == w.url("training"), page
    w.training()
    for page in ("audio_check", "training", "done"):
        assert client.get(w.url(page))["Location"] == w.url("rate"), page
    assert client.get(w.url("rate")).status_code == 200


def test_it_refuses_an_action_of_another_step_and_writes_nothing(client, make_study, walk):
    w = walk(make_study())
    w.consent()
    response = client.post(w.url("training"))
    assert response.status_code == 409 and b"This step is not open yet, or already done" in response.content
    assert Participant.objects.get().training_done_at is None
    w.audio_check()
    w.training()
    done_at = Participant.objects.get().training_done_at
    response = client.post(w.url("training"))
    assert response.status_code == 409 and b"This step is not open yet, or already done" in response.content
    assert Participant.objects.get().training_done_at == done_at
