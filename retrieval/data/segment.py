"""Long recordings + sound-effect intervals -> 6.4 s weakly labelled samples (`manage.py segment`).

A recording is cut into windows of `clip_seconds` every `hop` seconds (the paper: 6.4 s, no
overlap); only whole windows are kept. A window is labelled `has_se` when an annotated interval
overlaps it by at least `min_overlap` seconds; `se_onset` is where the first such effect starts
in the window (0 when it began before), `se_class` its class. Each sample is written as an MP4
(H.264 + AAC, the recording's picture size and frame rate, its own soundtrack) and a WAV at the
dataset's rate. Splits are by source: the sub-folder a recording lies in (one per broadcast day),
or the recording itself when it lies at the top of the folder or with `split_by="recording"`.
Sources sorted by name go to train, then valid, then test (the last ones).
"""

import csv
import math
import multiprocessing
import os
import re
import shutil
import tempfile
from collections import defaultdict
from collections.abc import Generator
from concurrent.futures import ProcessPoolExecutor
from contextlib import closing, contextmanager
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

from tqdm import tqdm

from media import (
    AUDIO_TOLERANCE_S,
    VIDEO_SUFFIXES,
    MediaError,
    Needs,
    RecordingReader,
    check_video,
    is_video_file,
    listed,
    probe,
)

from .errors import DatasetError
from .manifest import ManifestRow, write_manifest
from .writers import Mp4Writer, write_wav

ANNOTATION_COLUMNS = ("recording", "start", "end", "class")


@dataclass(frozen=True)
class Interval:
    start: float
    end: float
    cls: str
    row: int  # line in the annotation file
    file: str = ""  # the annotation file


@dataclass
class SegmentReport:
    out: Path
    samples: int = 0
    with_se: int = 0
    recordings: int = 0
    skipped: list[str] = field(default_factory=list)  # one readable reason per skipped recording
    splits: dict = field(default_factory=dict)  # split -> sources


def find_recordings(recordings_dir) -> dict[str, Path]:
    """Relative POSIX path -> file, for every media file under the folder."""
    root = Path(recordings_dir)
    if not root.is_dir():
        raise DatasetError(f"{root}: recordings folder does not exist")
    found = {p.relative_to(root).as_posix(): p for p in sorted(root.rglob("*")) if is_video_file(p)}
    if not found:
        raise DatasetError(f"{root}: no recordings ({listed(VIDEO_SUFFIXES)})")
    return found


def read_annotations(path, recordings: dict[str, Path]) -> tuple[dict, dict]:
    """Parses the annotation CSV: (recording -> intervals, recording -> first error for that recording).

    Errors tied to one recording are returned (the caller fails or skips it); a file that is not an
    annotation file at all raises.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: annotation file does not exist")
    by_name = defaultdict(list)
    for rel in recordings:
        by_name[Path(rel).name].append(rel)
    intervals: defaultdict[str, list[Interval]] = defaultdict(list)
    errors: dict[str, str] = {}
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        missing = [c for c in ANNOTATION_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise DatasetError(f"{path}: missing column(s) {', '.join(missing)}; expected "
                               f"{', '.join(ANNOTATION_COLUMNS)}")
        for line, raw in enumerate(reader, start=2):
            rec = _resolve(path, line, (raw.get("recording") or "").strip(), recordings, by_name)
            try:
                intervals[rec].append(_parse_interval(path, line, raw))
            except DatasetError as e:
                errors.setdefault(rec, str(e))
    for rec, items in intervals.items():
        if rec not in errors and (problem := _overlap_error(path, items)):
            errors[rec] = problem
    return intervals, errors


def _resolve(path, line, name, recordings, by_name) -> str:
    if name in recordings:
        return name
    matches = by_name.get(Path(name).name, []) if "/" not in name else []
    if len(matches) == 1:
        return matches[0]
    why = "is ambiguous (give its path in the recordings folder)" if matches else "is not a recording"
    raise DatasetError(f"{path}, row {line}: recording {name!r} {why}")


def _parse_interval(path, line, raw) -> Interval:
    if None in raw or any(raw.get(c) is None for c in ANNOTATION_COLUMNS):
        raise DatasetError(f"{path}, row {line}: wrong number of fields")
    values = {}
    for col in ("start", "end"):
        try:
            values[col] = float(raw[col])
        except ValueError:
            raise DatasetError(f"{path}, row {line}: {col} is not a number (got {raw[col]!r})") from None
        if not math.isfinite(values[col]):
            raise DatasetError(f"{path}, row {line}: {col} is not finite (got {raw[col]!r})")
    if values["start"] < 0 or values["end"] <= values["start"]:
        raise DatasetError(f"{path}, row {line}: need 0 <= start < end "
                           f"(got {values['start']}, {values['end']})")
    cls = raw["class"].strip()
    if not cls:
        raise DatasetError(f"{path}, row {line}: class is empty")
    return Interval(values["start"], values["end"], cls, line, str(path))


def _overlap_error(path, items: list[Interval]) -> str | None:
    items.sort(key=lambda i: i.start)
    for a, b in zip(items, items[1:], strict=False):
        if b.start < a.end:
            return (f"{path}, rows {a.row} and {b.row}: intervals overlap "
                    f"({a.start}-{a.end} and {b.start}-{b.end})")
    return None


def segment(recordings_dir, annotations, out_dir, *, clip_seconds: float = 6.4, hop: float | None = None,
            sample_rate: int = 48_000, split_by: str = "source", valid_sources: int = 1,
            test_sources: int = 1, min_overlap: float = 0.1, skip_bad: bool = False, overwrite: bool = False,
            progress: bool = True, jobs: int = 1) -> SegmentReport:
    """Builds the dataset in a temporary folder beside `out_dir`, renamed into place when complete.

    `jobs` > 1 cuts that many recordings at a time, each in a process of its own (one core each);
    the dataset is the same as with one.
    """
    hop = clip_seconds if hop is None else hop
    if clip_seconds <= 0 or hop <= 0:
        raise DatasetError(f"clip length and hop must be positive (got {clip_seconds}, {hop})")
    if jobs < 1:
        raise DatasetError(f"jobs must be at least 1 (got {jobs})")
    out = Path(out_dir).resolve()
    if out.exists() and not overwrite:
        raise DatasetError(f"{out}: already exists (choose another folder, or --overwrite to replace it)")
    recordings = find_recordings(recordings_dir)
    intervals, errors = read_annotations(annotations, recordings)
    sources = {rel: _source(rel, split_by) for rel in recordings}
    assign_splits(sorted(set(sources.values())), valid_sources, test_sources)  # fail before any work
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    os.chmod(tmp, 0o755)  # mkdtemp makes it private
    report = SegmentReport(out=out)
    try:
        prefixes = _prefixes(recordings)
        cuts = {rel: (path, intervals.get(rel, []), tmp, sources[rel], "", clip_seconds, hop, sample_rate,
                      min_overlap, prefixes[rel]) for rel, path in recordings.items() if rel not in errors}
        rows = _cut_each(recordings, cuts, errors, jobs, skip_bad, progress, report)
        if not rows:
            raise DatasetError(f"{recordings_dir}: no samples could be cut")
        # splits among the sources that gave samples, so skipped ones leave no split empty
        splits = assign_splits(sorted({r.source for r in rows}), valid_sources, test_sources)
        rows = [replace(r, split=splits[r.source]) for r in rows]
        write_manifest(tmp, rows)
        _publish(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    report.samples, report.with_se = len(rows), sum(r.has_se for r in rows)
    for split in ("train", "valid", "test"):
        report.splits[split] = sorted({r.source for r in rows if r.split == split})
    return report


def _cut_each(recordings, cuts, errors, jobs, skip_bad, progress, report) -> list[ManifestRow]:
    """The rows of every recording in order; a bad one raises, or with `skip_bad` is reported."""
    rows: list[ManifestRow] = []
    with closing(_cut_all(cuts, jobs)) as results:
        for rel in tqdm(recordings, desc="segmenting", unit="recording", disable=not progress):
            try:
                cut = DatasetError(errors[rel]) if rel in errors else next(results)
                if isinstance(cut, Exception):
                    raise cut
                rows += cut
                report.recordings += 1
            except (DatasetError, MediaError) as e:
                if not skip_bad:
                    raise
                report.skipped.append(str(e))
    return rows


def _cut_all(cuts: dict[str, tuple], jobs: int) -> Generator[list[ManifestRow] | DatasetError | MediaError]:
    """cut_recording's rows, or the error that stopped it, for each recording in `cuts`, in order.

    With `jobs` > 1 the recordings are cut in processes from a fork server (a fork of this process
    would inherit its sockets and the locks its threads hold). Closing the generator cancels what
    has not started and waits for what has, so that nothing still writes into the dataset's folder.
    """
    pool = None if jobs == 1 else ProcessPoolExecutor(
        max(1, min(jobs, len(cuts))), mp_context=multiprocessing.get_context("forkserver"))
    try:
        # each recording's rows when called: a submitted cut's result, or the cut itself in this process
        results = [pool.submit(cut_recording, *args).result if pool else partial(cut_recording, *args)
                   for args in cuts.values()]
        for result in results:
            try:
                yield result()
            except (DatasetError, MediaError) as e:
                yield e
    finally:
        if pool:
            pool.shutdown(wait=True, cancel_futures=True)


def _source(rel: str, split_by: str) -> str:
    if split_by not in ("source", "recording"):
        raise DatasetError(f"split_by must be 'source' or 'recording' (got {split_by!r})")
    parts = rel.split("/")
    return parts[0] if split_by == "source" and len(parts) > 1 else rel


def assign_splits(sources: list[str], valid: int = 1, test: int = 1) -> dict[str, str]:
    """Whole sources to splits: the last `test` (sorted) to test, the `valid` before to valid."""
    if len(sources) < valid + test + 1:
        raise DatasetError(f"{len(sources)} source(s) ({', '.join(sources)}) cannot give train, {valid} "
                           f"valid and {test} test source(s); splits are by whole source")
    n_train = len(sources) - valid - test
    return {s: "train" if i < n_train else "valid" if i < n_train + valid else "test"
            for i, s in enumerate(sources)}


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-") or "rec"


def _prefixes(recordings: dict[str, Path]) -> dict[str, str]:
    """Clip-id prefix per recording: its path without extension, or with it where two would clash."""
    short = {rel: _slug(Path(rel).with_suffix("").as_posix()) for rel in recordings}
    counts: dict[str, int] = {}
    for p in short.values():
        counts[p] = counts.get(p, 0) + 1
    return {rel: p if counts[p] == 1 else _slug(rel) for rel, p in short.items()}


def label(window_start: float, window_end: float, intervals: list[Interval], min_overlap: float):
    """(has_se, se_onset, se_class) of one window."""
    for iv in sorted(intervals, key=lambda i: i.start):
        overlap = min(iv.end, window_end) - max(iv.start, window_start)
        if overlap >= min_overlap - 1e-9:
            return True, max(0.0, iv.start - window_start), iv.cls
    return False, None, ""


def cut_recording(path: Path, intervals: list[Interval], out: Path, source: str, split: str,
                  clip_seconds: float, hop: float, sample_rate: int, min_overlap: float,
                  prefix: str) -> list[ManifestRow]:
    info = check_video(probe(path), Needs(audio=True, min_seconds=clip_seconds, minimum="one sample"))
    for iv in intervals:
        if iv.end > info.duration + AUDIO_TOLERANCE_S:
            raise DatasetError(f"{iv.file}, row {iv.row}: interval {iv.start}-{iv.end} s lies outside {path} "
                               f"({info.duration:.2f} s long)")
    count = int(math.floor((info.duration - clip_seconds + AUDIO_TOLERANCE_S) / hop)) + 1
    windows = [(k * hop, k * hop + clip_seconds) for k in range(count)]
    clips = out / "clips"
    clips.mkdir(exist_ok=True)
    ids = [f"{prefix}-{k:05d}" for k in range(count)]
    _cut_video(path, info, windows, [clips / f"{i}.mp4" for i in ids], sample_rate)
    rows = []
    for clip_id, (s, e) in zip(ids, windows, strict=True):
        has_se, onset, cls = label(s, e, intervals, min_overlap)
        rows.append(ManifestRow(clip_id, split, clips / f"{clip_id}.mp4", clips / f"{clip_id}.wav", has_se,
                                source, None if onset is None else round(onset, 3), cls))
    return rows


def _cut_video(path, info, windows, targets, sample_rate) -> None:
    """One pass over the recording; each window is written as soon as its frames are in."""
    rate = info.fps or 25
    open_: dict[int, Mp4Writer] = {}  # window index -> writer
    done = 0
    with closing(RecordingReader(path, sample_rate)) as recording, _closing(open_):
        for frame, t in recording.frames():
            while done < len(windows) and windows[done][1] <= t + 1e-6:
                _finish(done, open_, windows, targets, recording, sample_rate)
                done += 1
            for k in range(done, len(windows)):
                s, e = windows[k]
                if s > t + 1e-6:
                    break
                if k not in open_:
                    open_[k] = Mp4Writer(targets[k], frame.width, frame.height, rate, sample_rate)
                open_[k].add_frame(frame, pts=max(0, round((t - s) * rate)))
        for k in range(done, len(windows)):
            _finish(k, open_, windows, targets, recording, sample_rate)


@contextmanager
def _closing(writers):
    try:
        yield
    finally:
        for w in writers.values():
            w.container.close()


def _finish(k, open_, windows, targets, recording, sample_rate) -> None:
    writer = open_.pop(k, None)
    if writer is None:
        s, e = windows[k]
        raise MediaError(f"{recording.path}: no video frames between {s:.2f} and {e:.2f} s")
    s, e = windows[k]
    wave = recording.take(round(s * sample_rate), round((e - s) * sample_rate))
    writer.set_audio(wave)
    writer.close()
    write_wav(targets[k].with_suffix(".wav"), wave, sample_rate)


def _publish(tmp: Path, out: Path) -> None:
    """Renames the finished dataset into place (replacing an old one only at the last moment)."""
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        os.rename(out, old)
        os.rename(tmp, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(tmp, out)
