"""The dataset manifest (`manifest.csv`): one row per 6.4 s sample, paths relative to the dataset."""

import csv
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

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
    def fail(field, why):
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
    onset = None
    if raw["se_onset"].strip():
        try:
            onset = float(raw["se_onset"])
        except ValueError:
            onset = math.nan  # reported below
            fail("se_onset", "is not a number")
        if not math.isfinite(onset) or onset < 0:
            fail("se_onset", "must be a finite number of seconds >= 0")
    media = {}
    for field in ("video", "audio"):
        rel = raw[field].strip()
        if not rel:
            fail(field, "is empty")
        media[field] = (root / rel).resolve()
        if check_files and not media[field].is_file():
            fail(field, f"names a file that does not exist ({media[field]})")
    return ManifestRow(
        clip_id=clip_id, split=split, video=media["video"], audio=media["audio"], has_se=has_se in _TRUE,
        source=raw["source"].strip(), se_onset=onset, se_class=raw["se_class"].strip(),
    )


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
