"""Muxing real files: streams, durations, the soundtrack's samples, metadata, stream copy."""

import av
import numpy as np
import pytest

from media import MediaError
from tests.workers.media import chirp, make_video
from workers import audio, mux

SR = mux.SAMPLE_RATE


def streams(path):
    with av.open(str(path)) as c:
        return [s.type for s in c.streams], c.metadata, [dict(s.metadata) for s in c.streams]


def video_packets(path):
    with av.open(str(path)) as c:
        return [bytes(p) for p in c.demux(c.streams.video[0]) if p.size]


def best_lag_correlation(decoded, expected, max_lag=4096):
    """Normalised correlation of the decoded track with the expected one at the best small lag
    (AAC adds a little delay and changes samples slightly, never the waveform's shape)."""
    n = min(len(decoded), len(expected)) - max_lag
    best = 0.0
    for lag in range(0, max_lag, 16):
        a, b = decoded[lag : lag + n], expected[:n]
        best = max(best, float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12)))
    return best


@pytest.fixture
def clip(tmp_path):
    return make_video(tmp_path / "clip.mp4", seconds=3.0, flash_at=1.5)


def test_it_writes_one_video_and_one_audio_stream_of_the_video_duration(clip, tmp_path):
    info = mux.probe_video(clip)
    out = tmp_path / "out.mp4"
    mux.write_mp4(clip, info, mux.mix(info.duration, mux.MixSpec(), chirp(), 1.5), out)
    kinds, _, _ = streams(out)
    assert kinds == ["video", "audio"]
    with av.open(str(out)) as c:
        for s in c.streams:
            assert float(s.duration * s.time_base) == pytest.approx(3.0, abs=0.05)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4", "out.mp4"]  # no temp file left


def test_it_copies_the_h264_stream_bit_for_bit(clip, tmp_path):
    info = mux.probe_video(clip)
    assert mux.copyable(info)
    out = tmp_path / "out.mp4"
    mux.write_mp4(clip, info, mux.mix(info.duration, mux.MixSpec(), chirp()), out)
    assert video_packets(out) == video_packets(clip)


def test_it_reencodes_other_codecs_to_h264(tmp_path):
    src = make_video(tmp_path / "mpeg4.mp4", seconds=2.0, codec="mpeg4")
    info = mux.probe_video(src)
    assert not mux.copyable(info)
    out = tmp_path / "out.mp4"
    mux.write_mp4(src, info, mux.mix(info.duration, mux.MixSpec(), chirp()), out)
    got = mux.probe_video(out)
    assert (got.video.codec, got.video.pix_fmt) == ("h264", "yuv420p")
    assert got.duration == pytest.approx(2.0, abs=0.1)


def test_it_strips_metadata_that_could_name_the_method(tmp_path):
    src = tmp_path / "tagged.mp4"
    make_video(src, seconds=2.0)
    tagged = tmp_path / "tagged2.mp4"
    with av.open(str(src)) as inp, av.open(str(tagged), "w") as out:
        out.metadata["title"] = "Proposed method"
        out.metadata["comment"] = "random"
        v = out.add_stream_from_template(inp.streams.video[0])
        v.metadata["handler_name"] = "proposed-model"
        for packet in inp.demux(inp.streams.video[0]):
            if packet.dts is not None:
                packet.stream = v
                out.mux(packet)
    info = mux.probe_video(tagged)
    out_path = tmp_path / "out.mp4"
    mux.write_mp4(tagged, info, mux.mix(info.duration, mux.MixSpec(), chirp()), out_path)
    _, container_meta, stream_meta = streams(out_path)
    text = repr((container_meta, stream_meta)).lower()
    for word in ("proposed", "random", "title", "comment", "lavf"):
        assert word not in text
    with open(out_path, "rb") as fh:
        head = fh.read(4096)
    assert head.find(b"moov") < head.find(b"mdat") or b"mdat" not in head  # faststart: index first


def test_the_replace_soundtrack_is_the_sound_aligned_and_loudness_matched(clip, tmp_path):
    sound = np.concatenate([np.zeros(SR // 5, np.float32), chirp(1.0)])
    info = mux.probe_video(clip)
    offset = mux.alignment_offset(mux.visual_onset(clip), audio.audio_onset(sound, SR))
    assert offset == pytest.approx(1.5 - 0.2, abs=0.05)
    track = mux.mix(info.duration, mux.MixSpec(loudness_lufs=-20.0), sound, offset)
    out = tmp_path / "out.mp4"
    mux.write_mp4(clip, info, track, out)
    decoded = mux.read_audio(out)
    assert best_lag_correlation(decoded, track) > 0.95
    assert audio.integrated_loudness(decoded, SR) == pytest.approx(-20.0, abs=0.5)
    # Nothing before the aligned onset: the sound starts where the picture changes.
    assert np.abs(decoded[: round(1.2 * SR)]).max() < 0.01


def test_overlay_mixes_the_sound_over_the_ducked_original():
    rng = np.random.default_rng(0)
    original = (0.1 * rng.standard_normal(SR)).astype(np.float32)
    sound = (0.1 * rng.standard_normal(SR // 2)).astype(np.float32)
    spec = mux.MixSpec("overlay", gain_db=6.0, duck_db=-20.0, loudness_lufs=-23.0)
    track = mux.mix(1.0, spec, sound, 0.5, original)
    expected = 0.1 * original + audio.db(6.0) * audio.place(sound, SR // 2, SR)
    scale = track @ expected / (expected @ expected)  # one gain for all: the loudness match
    np.testing.assert_allclose(track, scale * expected, atol=1e-5)
    assert audio.integrated_loudness(track, SR) == pytest.approx(-23.0, abs=0.01)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.write_bytes(b"this is not a video"), "not a readable media file"),
        (lambda p: p.write_bytes(b""), "not a readable media file"),
    ],
)
def test_it_names_the_file_of_a_bad_video(tmp_path, make, message):
    bad = tmp_path / "bad.mp4"
    make(bad)
    with pytest.raises(MediaError, match=f"{bad}.*{message}"):
        mux.probe_video(bad)


def test_it_names_a_file_without_audio(tmp_path):
    silent = make_video(tmp_path / "silent.mp4", seconds=1.0, tone_hz=None)
    with pytest.raises(MediaError, match=f"{silent}: no audio stream"):
        mux.read_audio(silent)
