import numpy as np
import pytest

from workers import audio

SR = 48_000


def sine(freq, seconds, amplitude=1.0, sr=SR):
    return (amplitude * np.sin(2 * np.pi * freq * np.arange(round(seconds * sr)) / sr)).astype(np.float32)


@pytest.mark.parametrize("sr", [48_000, 16_000, 44_100])
def test_it_measures_a_full_scale_1khz_sine_at_minus_3_lufs(sr):
    # BS.1770: a 0 dBFS 1 kHz sine in one channel reads -3.01 LKFS.
    assert audio.integrated_loudness(sine(1000, 3.0, sr=sr), sr) == pytest.approx(-3.01, abs=0.05)


def test_it_scales_a_signal_to_the_target_loudness():
    out, gain = audio.normalize_loudness(sine(440, 2.0, 0.01), SR, -23.0)
    assert audio.integrated_loudness(out, SR) == pytest.approx(-23.0, abs=0.01)
    assert gain > 0


def test_it_gates_silence_out_of_the_loudness():
    # The same burst after 1 s or 20 s of silence: the gate keeps silence from diluting it.
    short, long = (np.concatenate([np.zeros(SR * s, np.float32), sine(1000, 1.0, 0.1)]) for s in (1, 20))
    assert audio.integrated_loudness(long, SR) == pytest.approx(
        audio.integrated_loudness(short, SR), abs=0.05
    )


def test_it_leaves_silence_alone():
    out, gain = audio.normalize_loudness(np.zeros(SR, np.float32), SR, -23.0)
    assert gain == 0.0 and not out.any()
    assert audio.integrated_loudness(np.zeros(SR), SR) == float("-inf")


def test_it_finds_the_onset_after_leading_silence():
    wave = np.concatenate([np.zeros(round(0.37 * SR), np.float32), sine(500, 0.5, 0.5)])
    assert audio.audio_onset(wave, SR) == pytest.approx(0.37, abs=0.011)


def test_it_places_a_sound_with_positive_and_negative_offsets():
    sound = np.arange(1, 6, dtype=np.float32)
    assert audio.place(sound, 2, 6).tolist() == [0, 0, 1, 2, 3, 4]
    assert audio.place(sound, -3, 4).tolist() == [4, 5, 0, 0]
    assert audio.place(sound, 9, 4).tolist() == [0, 0, 0, 0]


def test_it_makes_a_harsh_noise_that_fills_the_clip():
    noise = audio.harsh_noise(2.0, SR)
    assert len(noise) == 2 * SR
    # Every 100 ms window carries sound: nothing plausible, nothing quiet.
    windows = noise[: 20 * (SR // 10)].reshape(20, -1)
    assert (np.sqrt((windows**2).mean(axis=1)) > 0.2).all()
