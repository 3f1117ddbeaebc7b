import io

import numpy as np
from django.test import Client
from scipy.io import wavfile

from evalsite.rating.models import Participant


def test_it_speaks_the_digits_in_a_wav_clip_it_never_shows_in_the_page(client, make_study, walk):
    w = walk(make_study())
    w.consent()
    page = client.get(w.url("audio_check"))
    digits = w.participant.audio_check_digits
    assert page.status_code == 200 and len(digits) == 4 and digits.isdigit()
    assert digits.encode() not in page.content
    response = client.get(w.url("audio_check_clip"))
    assert response["Content-Type"] == "audio/wav"
    rate, samples = wavfile.read(io.BytesIO(response.content))
    assert rate == 16000 and len(samples) / rate > 1.5  # four spoken words and some silence
    assert np.abs(samples).max() > 10000


def test_it_passes_the_participant_who_types_the_digits(client, make_study, walk):
    w = walk(make_study())
    w.consent()
    client.get(w.url("audio_check"))
    digits = w.participant.audio_check_digits
    response = client.post(w.url("audio_check"), {"answer": " ".join(digits)})
    assert response.status_code == 302 and response["Location"].endswith("/instructions/")
    participant = w.participant
    assert participant.audio_check_passed is True and participant.audio_check_attempts == 1


def test_it_gives_new_digits_after_a_wrong_answer_and_fails_after_three(client, make_study, walk):
    w = walk(make_study())
    w.consent()
    client.get(w.url("audio_check"))
    for attempt in range(1, 4):
        before = w.participant.audio_check_digits
        wrong = "".join(str((int(d) + 1) % 10) for d in before)
        response = client.post(w.url("audio_check"), {"answer": wrong})
        assert response.status_code == 302
        participant = w.participant
        assert participant.audio_check_attempts == attempt and participant.audio_check_answer == wrong
        if attempt < 3:  # the next page says so from the server's record: no messages cookie needed
            fresh = Client()
            name = f"participant-{w.slug}"
            fresh.cookies[name] = client.cookies[name].value
            page = fresh.get(w.url("audio_check"))
            assert "Those were not the digits in the clip. Please listen to the new clip." in page.text
    assert participant.audio_check_passed is False
    assert response["Location"].endswith("/instructions/")  # screening excludes them later


def test_it_refuses_an_answer_that_is_not_digits_and_changes_nothing(client, make_study, walk):
    w = walk(make_study())
    w.consent()
    client.get(w.url("audio_check"))
    before = w.participant.audio_check_digits
    for bad in ["", "four seven", "12ab", "9" * 41]:
        response = client.post(w.url("audio_check"), {"answer": bad})
        assert response.status_code == 400, bad
        html = response.content.decode()
        # The error is on the form, next to the box, and the participant can type again.
        assert '<p class="error" role="alert" id="answer-error">Type' in html and "digits" in html
        assert 'aria-invalid="true" aria-describedby="answer-error"' in html and 'name="answer"' in html
    participant = Participant.objects.get()
    assert (participant.audio_check_attempts, participant.audio_check_passed) == (0, None)
    assert participant.audio_check_digits == before


def test_it_refuses_a_second_audio_check_once_done(client, make_study, walk):
    w = walk(make_study())
    w.consent()
    w.audio_check()
    response = client.post(w.url("audio_check"), {"answer": "1234"})
    assert response.status_code == 409
    assert client.get(w.url("audio_check_clip")).status_code == 404
    assert w.participant.audio_check_attempts == 1
