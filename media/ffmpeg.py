"""A second opinion on whether a file decodes to its end: the bundled ffmpeg program's.

PyAV stops on some files that the ffmpeg program reads completely (a Theora/Vorbis Ogg on which
`avcodec_send_packet` returns EINVAL after a few dozen frames, while ffmpeg decodes all of them
without a word). `probe(complete=True)` asks here when PyAV gives up, so that the project refuses
a file only when ffmpeg would too.
"""

import re
import shutil
import subprocess
import tempfile
from fractions import Fraction
from pathlib import Path

import imageio_ffmpeg

_TIME_BASE = re.compile(r"#tb (\d+): (\d+)/(\d+)")


def decoded_lengths(source, indices: list[int]) -> dict[int, tuple[float, int]] | None:
    """stream index -> (seconds decoded, frames) for the given streams, or None when ffmpeg reports
    any error (or fails); `source` is a path or a binary file object (copied to a temporary file)."""
    if isinstance(source, (str, Path)):
        return _measure(Path(source), indices)
    with tempfile.NamedTemporaryFile(suffix=".media") as copy:
        source.seek(0)
        shutil.copyfileobj(source, copy)
        copy.flush()
        source.seek(0)
        return _measure(Path(copy.name), indices)


def _measure(path: Path, indices: list[int]) -> dict[int, tuple[float, int]] | None:
    # framecrc lists every decoded frame: output stream, dts, pts, duration, size, checksum.
    maps = [arg for i in indices for arg in ("-map", f"0:{i}")]
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-v", "error", "-i", str(path), *maps,
           "-f", "framecrc", "-"]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    except OSError:
        return None
    if done.returncode or done.stderr.strip():
        return None
    bases: dict[int, Fraction] = {}
    ticks = dict.fromkeys(range(len(indices)), 0)
    frames = dict.fromkeys(range(len(indices)), 0)
    for line in done.stdout.splitlines():
        if m := _TIME_BASE.match(line):
            bases[int(m[1])] = Fraction(int(m[2]), int(m[3]))
        elif line and not line.startswith("#"):
            out, _, _, duration, *_ = (field.strip() for field in line.split(","))
            ticks[int(out)] += int(duration)
            frames[int(out)] += 1
    return {i: (float(ticks[k] * bases.get(k, 0)), frames[k]) for k, i in enumerate(indices)}
