"""The headphone check (antiphase test): its sounds, its pass rule, its attempts, its result in the
results and the exports."""

import csv
import io

import numpy as np
import pytest
from django.test import Client
from django.urls import reverse
from scipy.io import wavfile

from evalsite.rating import headphonecheck
from evalsite.rating.models import Participant

from .conftest import headphone_answers


def tones(samples: np.ndarray) -> list[np.ndarray]:
    """The three tones of a trial's clip, cut at the silences between them."""
    rate = headphonecheck.SAMPLE_RATE
    gap, tone = int(headphonecheck.GAP_SECONDS * rate), int(headphonecheck.TONE_SECONDS * rate)
    return [samples[gap + i * (tone + gap) : gap + i * (tone + gap) + tone].astype(float) for i in range(3)]


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x**2)))


def approx(value):
    return pytest.approx(value, abs=0.05)


def headphone_study(make_study, **fields):
    return make_study(headphone_check=True, **fields)


def test_it_plays_three_tones_a_trial_one_quieter_and_one_in_antiphase(client, make_study, walk):
    w = walk(headphone_study(make_study))
    w.consent()
    w.audio_check()
    page = client.get(w.url("headphone_check"))
    key = w.participant.headphone_check_key
    assert page.status_code == 200 and len(key) == 3 * headphonecheck.TRIALS
    assert key.encode() not in page.content and page.text.count("<audio") == headphonecheck.TRIALS
    for trial, order in enumerate(headphonecheck.trial_orders(key), start=1):
        response = client.get(reverse("rating:headphone_check_clip", args=[w.slug, trial]))
        assert response["Content-Type"] == "audio/wav" and "no-store" in response["Cache-Control"]
        rate, samples = wavfile.read(io.BytesIO(response.content))
        assert rate == 16000 and samples.shape[1] == 2
        by_kind = dict(zip(order, tones(samples), strict=True))
        reference, quiet, antiphase = by_kind["S"], by_kind["Q"], by_kind["A"]
        assert np.array_equal(reference[:, 0], reference[:, 1]) and np.array_equal(quiet[:, 0], quiet[:, 1])
        assert np.abs(antiphase[:, 0] + antiphase[:, 1]).max() <= 1  # right = -left, to rounding
        assert 20 * np.log10(rms(quiet) / rms(reference)) == approx(-6.0)
        assert rms(antiphase) == approx(rms(reference))
        spectrum = np.abs(np.fft.rfft(reference[:, 0]))
        assert np.argmax(spectrum) * rate / len(reference) == approx(200.0)
    assert client.get(reverse("rating:headphone_check_clip", args=[w.slug, 7])).status_code == 404


def test_it_passes_five_right_of_six_and_goes_on_to_the_instructions(client, make_study, walk):
    w = walk(headphone_study(make_study))
    w.consent()
    response = w.audio_check()
    assert response["Location"].endswith("/headphone-check/")
    response = w.headphone_check(right=5)
    assert response["Location"].endswith("/instructions/")
    p = w.participant
    assert (p.headphone_check_passed, p.headphone_check_correct, p.headphone_check_attempts) == (True, 5, 1)


def test_it_gives_new_sounds_after_four_right_and_fails_after_three_attempts(client, make_study, walk):
    w = walk(headphone_study(make_study))
    w.consent()
    w.audio_check()
    client.get(w.url("headphone_check"))
    for attempt in range(1, 4):
        key = w.participant.headphone_check_key
        response = client.post(w.url("headphone_check"), headphone_answers(key, 4))
        assert response.status_code == 302
        p = w.participant
        assert (p.headphone_check_attempts, p.headphone_check_correct) == (attempt, 4)
        if attempt < 3:  # said from the server's record, as the audio check does
            assert response["Location"].endswith("/headphone-check/")
            fresh = Client()
            fresh.cookies[f"participant-{w.slug}"] = client.cookies[f"participant-{w.slug}"].value
            page = fresh.get(w.url("headphone_check"))
            assert "Fewer than 5 of the 6 answers were right" in page.text
            assert f"Attempt {attempt + 1} of 3." in page.text
    assert p.headphone_check_passed is False
    assert response["Location"].endswith("/instructions/")  # screening excludes them later
    assert client.get(reverse("rating:headphone_check_clip", args=[w.slug, 1])).status_code == 404


def test_it_fails_the_listener_on_loudspeakers_who_hears_the_antiphase_tone_as_quietest(
    client, make_study, walk
):
    w = walk(headphone_study(make_study))
    w.consent()
    w.audio_check()
    for _ in range(3):
        w.headphone_check(right=0)
    p = w.participant
    assert (p.headphone_check_passed, p.headphone_check_correct) == (False, 0)


def test_it_refuses_a_missing_or_strange_answer_and_counts_nothing(client, make_study, walk):
    w = walk(headphone_study(make_study))
    w.consent()
    w.audio_check()
    client.get(w.url("headphone_check"))
    key = w.participant.headphone_check_key
    complete = headphone_answers(key, 6)
    strange = [{**complete, "trial_6": "4"}, {**complete, "trial_2": "x"}, {**complete, "trial_1": "1\x00"}]
    for bad in [{}, {**complete, "trial_3": ""}, *strange]:
        response = client.post(w.url("headphone_check"), bad)
        assert response.status_code == 400, bad
        assert '<p class="error" role="alert" id="headphone-error">Pick the' in response.text
    # The tones picked before the refusal stay picked.
    response = client.post(w.url("headphone_check"), {**complete, "trial_3": ""})
    picked = complete["trial_1"]
    assert f'id="trial-1-{picked}" name="trial_1" value="{picked}" checked' in response.text
    p = Participant.objects.get()
    assert (p.headphone_check_attempts, p.headphone_check_passed, p.headphone_check_key) == (0, None, key)


def test_it_asks_nothing_of_a_study_without_it_and_refuses_a_second_check(client, make_study, walk):
    w = walk(make_study())
    w.consent()
    assert w.audio_check()["Location"].endswith("/instructions/")
    assert client.get(w.url("headphone_check"))["Location"].endswith("/instructions/")
    assert client.post(w.url("headphone_check"), headphone_answers("SQA" * 6, 6)).status_code == 409
    other = walk(headphone_study(make_study, slug="with"), Client())
    other.consent()
    other.audio_check()
    other.headphone_check()
    assert other.client.post(other.url("headphone_check"), headphone_answers("SQA" * 6, 6)).status_code == 409
    assert other.participant.headphone_check_attempts == 1


def rate_all(w):
    w.training()
    while (assignment := w.current()) is not None:
        w.rate(assignment, assignment.stimulus.expected_score or 1 + assignment.pk % 5)  # careful


def test_it_excludes_who_failed_and_exports_each_result(client, make_study, walk, researcher):
    experiment = headphone_study(make_study)
    ears = walk(experiment)
    ears.consent(PROLIFIC_PID="ears")
    ears.audio_check()
    ears.headphone_check(right=6)
    rate_all(ears)
    speakers = walk(experiment, Client())
    speakers.consent(PROLIFIC_PID="speakers")
    speakers.audio_check()
    for _ in range(3):
        speakers.headphone_check(right=2)
    rate_all(speakers)
    staff = Client()
    staff.force_login(researcher)
    page = staff.get(reverse("experiments:results", args=[experiment.pk]))
    assert "failed the headphone check" in page.text
    assert "headphone check required (5 of 6 right)" in page.text
    data = staff.get(reverse("experiments:export_results", args=[experiment.pk])).json()
    by_id = {row["participant"]: row for row in data["headphone_check"]}
    assert by_id[ears.participant.pk] == {"participant": ears.participant.pk, "result": "passed",
                                          "correct": 6, "attempts": 1}  # fmt: skip
    assert by_id[speakers.participant.pk]["result"] == "failed"
    assert (data["participants"], data["kept"]) == (2, 1)
    response = staff.get(reverse("experiments:export_csv", args=[experiment.pk]))
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    speaker_rows = [r for r in rows if r["external_id"] == "speakers"]
    assert speaker_rows and all(r["headphone_check"] == "failed" for r in speaker_rows)
    assert all(r["headphone_check_correct"] == "2" and r["excluded"] == "1" for r in speaker_rows)
    assert "failed the headphone check" in speaker_rows[0]["exclusion_reasons"]
    ears_rows = [r for r in rows if r["external_id"] == "ears"]
    assert all(r["headphone_check"] == "passed" and r["headphone_check_correct"] == "6" for r in ears_rows)
