"""Stimuli measure the target loudness with ffmpeg's own EBU R128 meter (ebur128 filter), for
mono and stereo sources, stream-copied and re-encoded videos; every stimulus is one mono track."""

import re
import subprocess

import imageio_ffmpeg
import pytest

from media import probe
from tests.workers.media import chirp
from workers import mux


def ffmpeg(*args):
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-v", "error", "-y", *args], check=True)


def ebur128(path) -> float:
    """Integrated loudness in LUFS as ffmpeg's ebur128 filter measures the file's audio."""
    result = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-i", str(path), "-map", "0:a:0",
         "-af", "ebur128", "-f", "null", "-"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    summary = result.stderr.rsplit("Summary:", 1)[-1]
    return float(re.search(r"I:\s+(-?[\d.]+) LUFS", summary).group(1))


def source(path, channels, vcodec):
    """A 4 s test-pattern video with a tone soundtrack; stereo sources have a different tone and
    level in each channel (a mono copy in two channels would hide a per-channel mistake)."""
    tone = (
        "aevalsrc=0.4*sin(2*PI*440*t)|0.1*sin(2*PI*660*t):s=44100:d=4"
        if channels == 2
        else "sine=frequency=440:sample_rate=44100:duration=4"
    )
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=96x64:rate=10:duration=4", "-f", "lavfi", "-i", tone,
           "-c:v", vcodec, "-pix_fmt", "yuv420p", "-c:a", "aac", "-ac", str(channels), "-shortest",
           str(path))  # fmt: skip
    return path


CASES = [
    ("mono.mp4", 1, "libx264"),  # stream copy
    ("stereo.mp4", 2, "libx264"),  # stream copy
    ("stereo.mkv", 2, "mpeg4"),  # re-encoded to H.264
    ("mono.avi", 1, "mpeg4"),  # re-encoded to H.264
]


@pytest.mark.parametrize(("name", "channels", "vcodec"), CASES)
@pytest.mark.parametrize("target", [-23.0, -16.0])
def test_original_and_replaced_soundtracks_measure_the_target(tmp_path, name, channels, vcodec, target):
    video = source(tmp_path / name, channels, vcodec)
    info = mux.probe_video(video)
    assert info.audio.channels == channels
    assert mux.copyable(info) == (vcodec == "libx264")
    spec = mux.MixSpec(loudness_lufs=target)
    own = mux.read_audio(video)
    tracks = {
        "original": mux.mix(info.duration, spec, original=own),
        "replace": mux.mix(info.duration, spec, sound=chirp(1.5), offset=1.0),
        "overlay": mux.mix(info.duration, mux.MixSpec("overlay", loudness_lufs=target), chirp(1.5), 1.0, own),
    }
    for method, track in tracks.items():
        out = tmp_path / f"{method}.mp4"
        mux.write_mp4(video, info, track, out)
        written = probe(out)
        assert (written.video.codec, written.audio.channels) == ("h264", mux.CHANNELS)
        assert ebur128(out) == pytest.approx(target, abs=0.5), (name, method)
