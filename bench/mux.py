"""Seconds per stimulus for muxing, against a plain ffmpeg stream-copy mux of the same files.

    .venv/bin/python bench/mux.py [--repeat 10] [--seconds 6.4]

Reference: `ffmpeg -i video -i sound -map 0:v -map 1:a -c:v copy -c:a aac -shortest out.mp4`
(the same ffmpeg binary, imageio-ffmpeg's), where `sound` is a WAV holding the very soundtrack
ours makes for that mode: AAC's speed depends on the content (a dense overlay mix encodes slower
than a mostly silent effect track), so both encode the same audio. Ours does everything a
stimulus needs: probe, decode the sound (and the original), align the onset, mix, match
loudness, strip metadata, faststart. The input is a
30 fps 640x360 H.264 clip with an AAC soundtrack and a WAV holding a 1 s sound effect, as
long as the clip. Median of N interleaved runs.
"""

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import imageio_ffmpeg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.workers.media import chirp, make_video, make_wav  # noqa: E402
from workers import audio, mux  # noqa: E402


def reference(video, sound, out):
    cmd = [
        imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-y", "-v", "error", "-i", str(video), "-i", str(sound),
        "-map", "0:v", "-map", "1:a", "-c:v", "copy", "-c:a", "aac", "-shortest", str(out),
    ]  # fmt: skip
    subprocess.run(cmd, check=True)


def soundtrack(video, sound, mode="replace", detect=False):
    info = mux.probe_video(video)
    wave = mux.read_audio(sound)
    video_onset = mux.visual_onset(video) if detect else 3.0
    sound_onset = audio.audio_onset(wave, mux.SAMPLE_RATE) if detect else 0.1
    original = mux.read_audio(video) if mode == "overlay" else None
    spec = mux.MixSpec(mode=mode)
    track = mux.mix(info.duration, spec, wave, mux.alignment_offset(video_onset, sound_onset), original)
    return info, track


def ours(video, sound, out, mode="replace", detect=False):
    info, track = soundtrack(video, sound, mode, detect)
    mux.write_mp4(video, info, track, out)


def interleaved_medians(fns, repeat):
    """Runs every method once per round, so that load from other processes hits all alike."""
    times = [[] for _ in fns]
    for fn in fns:
        fn()  # warm the page cache and the ffmpeg binary
    for _ in range(repeat):
        for fn, out in zip(fns, times, strict=True):
            t0 = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t0)
    return [statistics.median(t) for t in times]


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=6.4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-mux-") as work:
        work = Path(work)
        video = make_video(work / "clip.mp4", seconds=args.seconds, fps=30, size=(640, 360), flash_at=3.0)
        sound = make_wav(work / "sfx.wav", chirp(1.0), lead_silence=0.1)
        out = work / "out.mp4"
        # The reference muxes a WAV that already holds the soundtrack ours computes for the same
        # mode (as long as the clip): it does only the muxing, ours the whole stimulus.
        refs = {mode: soundtrack_file(video, sound, mode, work) for mode in ("replace", "overlay")}
        rows = [
            ("ffmpeg reference, replace soundtrack", lambda: reference(video, refs["replace"], out)),
            ("ours: replace, known onsets", lambda: ours(video, sound, out)),
            ("ours: replace, onsets detected", lambda: ours(video, sound, out, detect=True)),
            ("ffmpeg reference, overlay soundtrack", lambda: reference(video, refs["overlay"], out)),
            ("ours: overlay, known onsets", lambda: ours(video, sound, out, mode="overlay")),
        ]
        medians = interleaved_medians([fn for _, fn in rows], args.repeat)
        print(f"{args.seconds} s 640x360 30 fps H.264 clip, 1 s sound effect, median of {args.repeat} runs")
        print(f"{'method':40s} {'s/stimulus':>11s} {'vs ffmpeg':>10s}")
        for (name, _), seconds in zip(rows, medians, strict=True):
            ref = medians[3] if "overlay" in name else medians[0]
            print(f"{name:40s} {seconds:11.3f} {seconds / ref:9.2f}x")


def soundtrack_file(video, sound, mode, work):
    # The track ours encodes, before encoding: an AAC round trip would hand the reference a
    # band-limited signal, which its encoder gets through faster.
    _, track = soundtrack(video, sound, mode)
    return make_wav(work / f"{mode}.wav", track)


if __name__ == "__main__":
    main()
