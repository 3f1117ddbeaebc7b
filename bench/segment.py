"""`manage.py segment` over long recordings: wall time, peak memory, clips, disk; and the cache's size.

    .venv/bin/python bench/segment.py [--hours 1 4] [--size 160x120] [--fps 25] [--work /work/data/bench]
                                      [--parallel 2 [--parallel-minutes 15] [--only-parallel]]

For each duration, imageio-ffmpeg's ffmpeg makes one recording (lavfi testsrc + a sine, H.264 +
AAC) in `day1/`, beside two 64 s recordings in `day2/` and `day3/` (the valid and test sources
that a dataset needs), and an annotation file with one 1 s effect a minute. `manage.py segment`
runs on them as a child process: its peak RSS is the kernel's (os.wait4's ru_maxrss), and the
RSS sampled every second gives the peak over the first and the second half of the run, so that
growth shows. Reference: the first (shortest) duration; memory bounded means a peak ratio of
about 1.0x while the wall time grows with the duration. `--keep` leaves the recordings, and a
later run with `--reuse` cuts them again instead of making them anew (a 24-hour one takes
ffmpeg about 20 minutes here).

Then the feature cache (retrieval.data.cache) of the 64 s test source for the demo and paper
presets, full and compact (float16 spectrograms, frames decoded from the clips at load time): its
size on disk per clip, measured, and what 10,000 clips cost. Everything made is deleted at the
end unless --keep. The machine's load (uptime) is printed with the figures.

With `--parallel N`, N recordings of `--parallel-minutes` each are cut with `--jobs 1` and with
`--jobs N`: wall time and the speed-up (`--only-parallel` prints that table alone).
"""

import argparse
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import imageio_ffmpeg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SHORT_SECONDS = 64  # the valid and test sources: 10 clips each
DATASET_CLIPS = 10_000


def make_recording(path: Path, seconds: float, size: str, fps: int) -> float:
    """Writes a testsrc + sine recording; returns the seconds it took."""
    path.parent.mkdir(parents=True, exist_ok=True)
    cmd = [
        imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-y", "-v", "error",
        "-f", "lavfi", "-i", f"testsrc=size={size}:rate={fps}",
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
        "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-crf", "28", "-g", str(10 * fps),
        "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k", "-ac", "1", str(path),
    ]  # fmt: skip
    start = time.perf_counter()
    subprocess.run(cmd, check=True)
    return time.perf_counter() - start


def has_recordings(recs: Path, seconds: float) -> bool:
    """Whether recs holds the three recordings, the long one `seconds` long (to a frame)."""
    from media import MediaError, probe

    lengths = {"day1/long.mp4": seconds, "day2/short.mp4": SHORT_SECONDS, "day3/short.mp4": SHORT_SECONDS}
    try:
        return all(abs(probe(recs / rel).duration - want) < 0.1 for rel, want in lengths.items())
    except MediaError:
        return False


def write_annotations(path: Path, recordings: dict[str, float]) -> int:
    """One 1 s effect a minute (from 10 s in), classes in turn; returns the number of rows."""
    lines, classes = ["recording,start,end,class"], ("door", "glass", "steps", "car")
    for name, seconds in recordings.items():
        for k, t in enumerate(range(10, int(seconds) - 2, 60)):
            lines.append(f"{name},{t},{t + 1},{classes[k % len(classes)]}")
    path.write_text("\n".join(lines) + "\n")
    return len(lines) - 1


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def run_segment(recordings: Path, annotations: Path, out: Path, jobs: int = 1) -> dict:
    """Runs manage.py segment as a child; wall time, peak RSS and the RSS samples over time."""
    cmd = [
        sys.executable,
        str(ROOT / "manage.py"),
        "segment",
        "--recordings",
        str(recordings),
        "--annotations",
        str(annotations),
        "--out",
        str(out),
        "--no-progress",
        "--jobs",
        str(jobs),
    ]
    samples: list[tuple[float, int]] = []
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def sample():
        while proc.returncode is None:
            samples.append((time.perf_counter() - start, rss_kib(proc.pid)))
            time.sleep(1.0)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    output = proc.stdout.read() if proc.stdout else ""
    if proc.returncode != 0:
        raise SystemExit(f"segment failed ({proc.returncode}):\n{output}")
    half = wall / 2
    first = max((r for t, r in samples if t < half), default=0)
    second = max((r for t, r in samples if t >= half), default=0)
    return {
        "wall": wall,
        "peak_mib": usage.ru_maxrss / 1024,
        "first_half_mib": first / 1024,
        "second_half_mib": second / 1024,
        "cpu": usage.ru_utime + usage.ru_stime,
    }


def disk_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def count_clips(dataset: Path) -> int:
    with open(dataset / "manifest.csv") as f:
        return sum(1 for _ in f) - 1


def cache_sizes(dataset: Path) -> list[tuple[str, int, float, float]]:
    """(preset/mode, clips, bytes per clip on disk, seconds per clip to build) for the test split."""
    from retrieval.data.cache import load_split
    from retrieval.presets import get_preset

    rows = []
    for name in ("demo", "paper"):
        for compact in (False, True):
            shutil.rmtree(dataset / ".cache", ignore_errors=True)
            start = time.perf_counter()
            data = load_split(dataset, "test", get_preset(name), progress=False, compact=compact)
            took = time.perf_counter() - start
            n = len(data)
            rows.append(
                (f"{name}, {'compact' if compact else 'full'}", n, disk_bytes(data.path) / n, took / n)
            )
            del data
    shutil.rmtree(dataset / ".cache", ignore_errors=True)
    return rows


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def print_segment_table(results: list[dict], what: str) -> None:
    ref = results[0]
    print(f"\nmanage.py segment, {what}; reference: the {ref['hours']:g} h recording")
    head = (
        "recording",
        "wall s",
        "s/h",
        "CPU s",
        "peak MiB",
        "1st half",
        "2nd half",
        "clips",
        "dataset GB",
        "KB/clip",
        "peak vs ref",
        "wall vs ref",
    )
    print(" ".join(f"{h:>11}" for h in head), " load after (1/5/15 min)")
    for r in results:
        cells = (
            f"{r['hours']:g} h",
            f"{r['wall']:.0f}",
            f"{r['wall'] / r['hours']:.0f}",
            f"{r['cpu']:.0f}",
            f"{r['peak_mib']:.0f}",
            f"{r['first_half_mib']:.0f}",
            f"{r['second_half_mib']:.0f}",
            str(r["clips"]),
            f"{r['disk'] / 1e9:.2f}",
            f"{r['disk'] / r['clips'] / 1e3:.0f}",
            f"{r['peak_mib'] / ref['peak_mib']:.2f}x",
            f"{r['wall'] / ref['wall']:.2f}x",
        )
        print(" ".join(f"{c:>11}" for c in cells), " ", " ".join(f"{x:.2f}" for x in r["load"][1]))
    last = results[-1]
    clips_24h = 24 * 3600 / 6.4
    print(
        f"24 h at the last rate: {24 * last['wall'] / last['hours'] / 3600:.1f} h wall, "
        f"{clips_24h * last['disk'] / last['clips'] / 1e9:.1f} GB of samples"
    )


def print_cache_table(rows: list[tuple[str, int, float, float]]) -> None:
    print(f"\nfeature cache of the test split (load {load()}); reference: paper, full")
    head = ("preset, mode", "clips", "MB/clip", "GB per 10,000", "build s/clip", "vs ref")
    print(f"{head[0]:<16}", " ".join(f"{h:>13}" for h in head[1:]))
    paper = next(r[2] for r in rows if r[0] == "paper, full")
    for label, n, per_clip, took in rows:
        cells = (
            str(n),
            f"{per_clip / 1e6:.3f}",
            f"{per_clip * DATASET_CLIPS / 1e9:.2f}",
            f"{took:.3f}",
            f"{per_clip / paper:.3f}x",
        )
        print(f"{label:<16}", " ".join(f"{c:>13}" for c in cells))
    print("compact: float16 spectrograms; frames decoded from the sample clips (in the dataset) when read")


def parallel_table(args) -> None:
    """`--parallel N` recordings of `--parallel-minutes` (the train sources) cut with --jobs 1 and N."""
    work = args.work / "parallel"
    shutil.rmtree(work, ignore_errors=True)
    recs, seconds, lengths = work / "recordings", args.parallel_minutes * 60, {}
    for k in range(args.parallel):
        make_recording(recs / f"day{k + 1:02d}" / "long.mp4", seconds, args.size, args.fps)
        lengths[f"day{k + 1:02d}/long.mp4"] = seconds
    for day in ("day98", "day99"):  # sorted last: the valid and test sources
        make_recording(recs / day / "short.mp4", SHORT_SECONDS, args.size, args.fps)
        lengths[f"{day}/short.mp4"] = SHORT_SECONDS
    write_annotations(work / "annotations.csv", lengths)
    rows = []
    for jobs in (1, args.parallel):
        shutil.rmtree(work / "dataset", ignore_errors=True)
        rows.append((jobs, run_segment(recs, work / "annotations.csv", work / "dataset", jobs),
                     count_clips(work / "dataset"), os.getloadavg()))
    print(f"\nmanage.py segment --jobs over {args.parallel} recordings of {args.parallel_minutes:g} min "
          f"({os.cpu_count()} cores); reference: --jobs 1")
    print(" ".join(f"{h:>11}" for h in ("jobs", "wall s", "clips", "clips/s", "speed-up")), " load after")
    for jobs, res, clips, after in rows:
        cells = (str(jobs), f"{res['wall']:.0f}", str(clips), f"{clips / res['wall']:.2f}",
                 f"{rows[0][1]['wall'] / res['wall']:.2f}x")
        print(" ".join(f"{c:>11}" for c in cells), " ", " ".join(f"{x:.2f}" for x in after))
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, nargs="+", default=[1.0, 4.0])
    parser.add_argument("--size", default="160x120", help="picture size of the recordings")
    parser.add_argument("--fps", type=int, default=25)
    parser.add_argument("--work", type=Path, default=Path("/work/data/bench/segment"))
    parser.add_argument("--no-cache", action="store_true", help="skip the cache sizes")
    parser.add_argument("--keep", action="store_true", help="keep the recordings and datasets")
    parser.add_argument("--parallel", type=int, default=0, metavar="N",
                        help="then N recordings cut with --jobs 1 and --jobs N (the speed-up)")
    parser.add_argument("--parallel-minutes", type=float, default=15.0, help="length of each of those")
    parser.add_argument("--only-parallel", action="store_true", help="only the --parallel table")
    parser.add_argument("--reuse", action="store_true",
                        help="use recordings of the right length already in --work (from a run with --keep)")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "evalsite.settings")
    os.environ.setdefault("DEBUG", "true")  # the command needs no secret key
    if args.only_parallel:
        parallel_table(args)
        return
    results = []
    for hours in args.hours:
        work = args.work / f"{hours:g}h"
        recs = work / "recordings"
        seconds = hours * 3600
        if args.reuse and has_recordings(recs, seconds):
            print(f"{hours:g} h: reusing the recordings in {recs}", flush=True)
            shutil.rmtree(work / "dataset", ignore_errors=True)
        else:
            shutil.rmtree(work, ignore_errors=True)
            make_recording(recs / "day1" / "long.mp4", seconds, args.size, args.fps)
            for day in ("day2", "day3"):
                make_recording(recs / day / "short.mp4", SHORT_SECONDS, args.size, args.fps)
        notes = write_annotations(
            work / "annotations.csv",
            {"day1/long.mp4": seconds, "day2/short.mp4": SHORT_SECONDS, "day3/short.mp4": SHORT_SECONDS},
        )
        load_before = os.getloadavg()
        res = run_segment(recs, work / "annotations.csv", work / "dataset")
        res.update(
            hours=hours,
            annotations=notes,
            load=(load_before, os.getloadavg()),
            recording=(recs / "day1" / "long.mp4").stat().st_size,
            clips=count_clips(work / "dataset"),
            disk=disk_bytes(work / "dataset"),
        )
        results.append(res)
        print(
            f"{hours:g} h done: {res['wall']:.0f} s, peak {res['peak_mib']:.0f} MiB, load {load()}",
            flush=True,
        )
        if hours != args.hours[-1] and not args.keep:
            shutil.rmtree(work / "recordings", ignore_errors=True)  # disk for the next one

    print_segment_table(results, f"{args.size} at {args.fps} fps, 48 kHz")
    if not args.no_cache:
        rows = cache_sizes(args.work / f"{results[-1]['hours']:g}h" / "dataset")
        print_cache_table(rows)
    if args.parallel:
        parallel_table(args)
    if not args.keep:
        shutil.rmtree(args.work, ignore_errors=True)


if __name__ == "__main__":
    main()
