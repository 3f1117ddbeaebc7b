"""The dataset manifest (`manifest.csv`): one row per 6.4 s sample, paths relative to the dataset."""

import csv
import math
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import NoReturn

from .errors import DatasetError

MANIFEST = "manifest.csv"
COLUMNS = ("clip_id", "split", "video", "audio", "has_se", "source", "se_onset", "se_class")
SPLITS = ("train", "valid", "test")
_TRUE = {"1", "true", "yes"}
_FALSE = {"0", "false", "no"}


@dataclass(frozen=True)
class ManifestRow:
    clip_id: str
    split: str
    video: Path
    audio: Path
    has_se: bool
    source: str
    se_onset: float | None
    se_class: str


def read_manifest(dataset_dir, check_files: bool = True) -> list[ManifestRow]:
    """Reads `<dataset_dir>/manifest.csv`; a bad row is a DatasetError naming file and row."""
    root = Path(dataset_dir).resolve()
    path = root / MANIFEST
    if not path.is_file():
        raise DatasetError(f"{path}: no manifest (is {root} a dataset directory?)")
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise DatasetError(
                f"{path}: missing column(s) {', '.join(missing)}; expected {', '.join(COLUMNS)}"
            )
        rows = [_parse_row(path, root, n, raw, check_files) for n, raw in enumerate(reader, start=2)]
    _check_unique(path, rows)
    return rows


def _parse_row(path: Path, root: Path, line: int, raw: dict, check_files: bool) -> ManifestRow:
    def fail(field: str, why: str) -> NoReturn:
        raise DatasetError(f"{path}, row {line}: {field} {why} (got {raw.get(field)!r})")

    if None in raw or any(raw[c] is None for c in COLUMNS):
        raise DatasetError(f"{path}, row {line}: wrong number of fields")
    clip_id = raw["clip_id"].strip()
    if not clip_id:
        fail("clip_id", "is empty")
    split = raw["split"].strip()
    if split not in SPLITS:
        fail("split", f"must be one of {', '.join(SPLITS)}")
    has_se = raw["has_se"].strip().lower()
    if has_se not in _TRUE | _FALSE:
        fail("has_se", "must be 0 or 1")
    onset = _onset(raw["se_onset"], fail)
    video = _media(root, raw["video"], check_files, partial(fail, "video"))
    audio = _media(root, raw["audio"], check_files, partial(fail, "audio"))
    return ManifestRow(
        clip_id=clip_id, split=split, video=video, audio=audio, has_se=has_se in _TRUE,
        source=raw["source"].strip(), se_onset=onset, se_class=raw["se_class"].strip(),
    )


def _onset(text: str, fail: Callable[[str, str], NoReturn]) -> float | None:
    if not text.strip():
        return None
    try:
        onset = float(text)
    except ValueError:
        fail("se_onset", "is not a number")
    if not math.isfinite(onset) or onset < 0:
        fail("se_onset", "must be a finite number of seconds >= 0")
    return onset


def _media(root: Path, text: str, check_files: bool, fail: Callable[[str], NoReturn]) -> Path:
    rel = text.strip()
    if not rel:
        fail("is empty")
    path = (root / rel).resolve()
    if check_files and not path.is_file():
        fail(f"names a file that does not exist ({path})")
    return path


def _check_unique(path: Path, rows: list[ManifestRow]) -> None:
    seen: dict[str, int] = {}
    for line, row in enumerate(rows, start=2):
        if row.clip_id in seen:
            raise DatasetError(f"{path}, row {line}: clip_id {row.clip_id!r} repeats row {seen[row.clip_id]}")
        seen[row.clip_id] = line


def write_manifest(dataset_dir, rows: Iterable[ManifestRow]) -> Path:
    """Writes the manifest atomically (temp file + rename), paths relative to the dataset dir."""
    root = Path(dataset_dir).resolve()
    path = root / MANIFEST
    tmp = path.with_name(f".{MANIFEST}.{os.getpid()}.tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(COLUMNS)
        for r in rows:
            writer.writerow([
                r.clip_id, r.split, Path(r.video).resolve().relative_to(root).as_posix(),
                Path(r.audio).resolve().relative_to(root).as_posix(), int(r.has_se), r.source,
                "" if r.se_onset is None else f"{r.se_onset:.3f}", r.se_class,
            ])
    os.replace(tmp, path)
    return path
