"""decode_video / decode_audio on hand-made recordings whose frames and tones say where they are."""

import numpy as np
import pytest

from retrieval.data import MediaError, decode_audio, decode_video, probe
from retrieval.presets import PRESETS, Preset
from tests.datasets.helpers import dominant_frequency, make_recording, read_index, tone

DEMO = PRESETS["demo"]


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    root = tmp_path_factory.mktemp("media")
    return {
        "mkv": make_recording(root / "a.mkv", 8.0, fps=30, size=(160, 90)),
        "ts": make_recording(root / "b.ts", 8.0, fps=25, size=(160, 90)),
        "silent": make_recording(root / "c.mp4", 8.0, audio=False),
        "short": make_recording(root / "d.mp4", 5.0),
        "nearly": make_recording(root / "e.mp4", 6.4, audio_seconds=6.37),
    }


def test_it_samples_frames_at_the_preset_rate_and_crops_the_centre(media):
    frames = decode_video(media["mkv"], DEMO)
    assert frames.shape == (32, 64, 64, 3) and frames.dtype == np.uint8
    # 30 fps source, 5 fps sampling: every 6th source frame
    assert [read_index(f) for f in frames] == [6 * k for k in range(32)]
    # the red and blue bands outside the centre square are cropped away
    red = (frames[..., 0].astype(int) - frames[..., 2]).clip(0)
    blue = (frames[..., 2].astype(int) - frames[..., 0]).clip(0)
    assert red.max() < 60 and blue.max() < 60


def test_it_starts_at_an_offset(media):
    frames = decode_video(media["mkv"], Preset("t", frames=8, size=32), start=1.5)
    assert [read_index(f) for f in frames] == [45 + 6 * k for k in range(8)]


def test_it_reads_other_containers_and_rates(media):
    frames = decode_video(media["ts"], Preset("t", size=48))
    indices = [read_index(f) for f in frames]
    # 25 fps source: about every 5th frame, on screen at k / 5 s (the stream starts 1 frame late)
    assert all(abs(i - 5 * k) <= 1 for k, i in enumerate(indices)) and indices == sorted(indices)


def test_it_refuses_a_clip_shorter_than_the_preset(media):
    with pytest.raises(MediaError, match=r"d\.mp4.*video ends at 5\.0"):
        decode_video(media["short"], DEMO)
    with pytest.raises(MediaError, match="a.mkv"):
        decode_video(media["mkv"], DEMO, start=2.0)


def test_it_pads_a_video_shorter_than_the_window_with_its_last_frame(media):
    frames = decode_video(media["short"], DEMO, seconds=5.0)  # 5 s of a 6.4 s window
    indices = [read_index(f) for f in frames]
    # 25 frames at 5 fps from a 30 fps source, then its last frame (149, at 4.97 s) to the window's end
    assert indices[:25] == [6 * k for k in range(25)]
    assert indices[25:] == [149] * 7
    with pytest.raises(MediaError, match=r"d\.mp4.*video ends at 5\.0"):
        decode_video(media["short"], DEMO, seconds=6.0)  # a video shorter than it says


def test_it_reads_audio_as_mono_at_the_rate_asked(media):
    wave = decode_audio(media["mkv"], 16_000, seconds=6.4)
    assert wave.shape == (102_400,) and wave.dtype == np.float32
    for second in range(6):
        chunk = wave[second * 16_000 + 2000:(second + 1) * 16_000 - 2000]
        assert dominant_frequency(chunk, 16_000) == pytest.approx(300 + 100 * second, abs=5)


def test_it_aligns_audio_read_from_an_offset(media):
    wave = decode_audio(media["mkv"], 48_000, seconds=3.0, start=0.7)
    expected = tone(0.7 + np.arange(len(wave)) / 48_000)
    assert np.corrcoef(wave[4800:], expected[4800:])[0, 1] > 0.99


def test_it_reads_the_whole_soundtrack_without_a_length(media):
    wave = decode_audio(media["ts"], 8000)
    assert abs(len(wave) / 8000 - 8.0) < 0.1


def test_it_pads_a_tiny_shortfall_and_refuses_a_large_one(media):
    wave = decode_audio(media["nearly"], 16_000, seconds=6.4)
    assert len(wave) == 102_400 and not wave[-100:].any()
    with pytest.raises(MediaError, match=r"d\.mp4: audio is 5\.0\d s .*shorter than the 6\.40 s"):
        decode_audio(media["short"], 16_000, seconds=6.4)


def test_it_names_a_file_without_audio_stream(media):
    with pytest.raises(MediaError, match=r"c\.mp4: no audio stream"):
        decode_audio(media["silent"], 16_000, seconds=6.4)
    assert probe(media["silent"]).has_audio is False


def test_it_names_an_unreadable_or_missing_file(tmp_path):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"this is not a video" * 100)
    with pytest.raises(MediaError, match="junk.mp4: not a readable media file"):
        decode_video(junk, DEMO)
    with pytest.raises(MediaError, match="nothing.mp4: no such file"):
        decode_audio(tmp_path / "nothing.mp4", 16_000)
