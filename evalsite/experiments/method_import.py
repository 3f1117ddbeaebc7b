"""Importing an outside system's outputs as a method: every check first, then one transaction.

Three forms (experiments.imported.ImportedOutput.Form): a `video,sound` CSV of library sounds, a
folder of soundtracks or a folder of finished clips, each file named after its video (the video's
name, with or without its suffix). `check` reads everything and returns every problem, each
naming its file or row and its reason; `store` runs only when there is none, writing the method,
its outputs and their files in one transaction, so that a refused or failed import stores nothing.
"""

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.files import File
from django.db import transaction

import media
from media import MEDIA_SUFFIXES, MediaError, Needs

from . import importer
from .imported import ImportedOutput
from .models import Experiment, Method, Sound, Video

Form = ImportedOutput.Form
SILENT_PEAK = 1e-4  # -80 dBFS: a track no louder than this throughout is silent
SHORTFALL = 0.1  # a soundtrack or clip shorter than its video by more than this share is refused


class ImportRefused(ValueError):
    """The import's problems, each naming its file or row; nothing was stored."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass
class Planned:
    """One video's checked output, to be stored."""

    video: Video
    source: str
    sha256: str
    sound: Sound | None = None
    path: Path | None = None
    duration: float | None = None


def import_method(experiment: Experiment, label: str, form: str, source: Path) -> Method:
    """Checks `source` in `form` against the experiment, then stores the method; ImportRefused
    lists every problem found."""
    planned, problems = check(experiment, label, form, Path(source))
    if problems:
        raise ImportRefused(problems)
    return store(experiment, label, form, planned)


def check(experiment: Experiment, label: str, form: str, source: Path) -> tuple[list[Planned], list[str]]:
    problems = []
    if experiment.status != Experiment.Status.DRAFT:
        problems.append(f"'{experiment}' is {experiment.status}: methods are added to a draft only")
    if not label.strip():
        problems.append("the method needs a label")
    elif experiment.methods.filter(label=label).exists():
        problems.append(f"'{experiment}' already has a method labelled {label!r}")
    videos = VideoIndex(experiment)
    if not videos.all:
        problems.append(f"'{experiment}' has no videos to import outputs for")
    if form == Form.CHOICES:
        rows, found = read_choices(experiment, source, videos)
    else:
        rows, found = read_files(source, form, videos)
    problems += found
    given = {row.video.pk for row in rows}
    problems += [f"video '{v.name}': no usable output given" for v in videos.all if v.pk not in given]
    return rows, problems


class VideoIndex:
    """The experiment's videos by the names an output may carry: the name, or the name without
    its suffix (door.mp4 is 'door.mp4' or 'door'); a key not found is tried without its suffix."""

    def __init__(self, experiment: Experiment):
        self.all = list(experiment.videos.order_by("name", "pk"))
        self.by_key: dict[str, list[Video]] = {}
        for video in self.all:
            for key in {video.name, Path(video.name).stem}:
                self.by_key.setdefault(key.casefold(), []).append(video)

    def find(self, key: str, where: str) -> Video:
        key = key.strip()
        matches = self.by_key.get(key.casefold()) or self.by_key.get(Path(key).stem.casefold(), [])
        if not matches:
            raise ValueError(f"{where}: {key!r} is no video of the experiment")
        if len(matches) > 1:
            names = ", ".join(v.name for v in matches)
            raise ValueError(f"{where}: {key!r} matches {len(matches)} videos ({names}); rename one")
        return matches[0]


def read_choices(experiment: Experiment, path: Path, videos: VideoIndex) -> tuple[list[Planned], list[str]]:
    """A `video,sound` CSV: each row one video's top-1, a sound of the library by name or id."""
    try:
        with path.open("rb") as fh:
            digest = importer.sha256_of(fh)
        with path.open(newline="", encoding="utf-8-sig") as fh:
            table = list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        return [], [f"{path}: cannot read the CSV ({exc})"]
    if not table or not {"video", "sound"} <= set(table[0]):
        return [], [f"{path}: needs a header 'video,sound' and a row per video"]
    library = experiment.sound_library
    if library is None:
        return [], [f"'{experiment}' has no sound library to choose sounds from"]
    rows: list[Planned] = []
    problems: list[str] = []
    seen: set[int] = set()
    for number, row in enumerate(table, start=2):
        where = f"{path} row {number}"
        try:
            video = videos.find(row["video"] or "", where)
            sound = find_sound(library.sounds.all(), row["sound"] or "", where)
            claim(video, seen, where)
        except ValueError as exc:
            problems.append(str(exc))
            continue
        rows.append(Planned(video, f"{path.name} row {number}", digest, sound=sound))
    return rows, problems


def find_sound(sounds, key: str, where: str) -> Sound:
    key = key.strip()
    found = sounds.filter(name=key) or sounds.filter(name=Path(key).stem)
    if not found and key.isdigit():
        found = sounds.filter(pk=int(key))
    if not found:
        raise ValueError(f"{where}: sound {key!r} is not in the experiment's sound library")
    return found[0]


def claim(video: Video, seen: set[int], where: str) -> None:
    if video.pk in seen:
        raise ValueError(f"{where}: a second output for video '{video.name}'")
    seen.add(video.pk)


def read_files(folder: Path, form: str, videos: VideoIndex) -> tuple[list[Planned], list[str]]:
    """One file per video in `folder`, each checked to the end of its decoding."""
    try:
        paths = importer.media_files(folder)
    except MediaError as exc:
        return [], [str(exc)]
    rows: list[Planned] = []
    problems: list[str] = []
    seen: set[int] = set()
    for path in paths:
        # Hidden files and a Mac zip's __MACOSX folder are a file system's bookkeeping, not outputs.
        if any(part.startswith(".") or part == "__MACOSX" for part in path.relative_to(folder).parts):
            continue
        if path.suffix.lower() not in MEDIA_SUFFIXES:
            problems.append(f"{path}: not a media file (expected {media.listed(MEDIA_SUFFIXES)})")
            continue
        try:
            video = videos.find(path.stem, str(path))
            claim(video, seen, str(path))
            rows.append(check_file(path, form, video))
        except (ValueError, OSError) as exc:  # MediaError is a ValueError
            problems.append(str(exc))
    return rows, problems


def check_file(path: Path, form: str, video: Video) -> Planned:
    """A usable soundtrack or clip for `video`: not too large, complete, not silent, and not much
    shorter than the video."""
    limit = settings.IMPORTED_MAX_FILE_MB
    size = path.stat().st_size
    if limit and size > limit * 1024 * 1024:
        raise MediaError(f"{path}: {size / 2**20:.1f} MB; the limit is {limit} MB (IMPORTED_MAX_FILE_MB)")
    info = importer.probe(str(path), str(path))
    if form == Form.CLIPS:
        media.check_video(info, Needs(audio=True))
    else:
        media.check_sound(info)
    seconds = media.usable_seconds(info) if info.has_video else info.duration
    wanted = video.duration or 0.0
    if seconds < wanted * (1 - SHORTFALL):
        raise MediaError(f"{path}: {seconds:.2f} s long, much shorter than video '{video.name}' "
                         f"({wanted:.2f} s)")  # fmt: skip
    if float(np.abs(media.decode_audio(str(path), 16000)).max(initial=0.0)) <= SILENT_PEAK:
        raise MediaError(f"{path}: silent (no sample above -80 dBFS)")
    with path.open("rb") as fh:
        digest = importer.sha256_of(fh)
    return Planned(video, path.name, digest, path=path, duration=seconds)


def store(experiment: Experiment, label: str, form: str, planned: list[Planned]) -> Method:
    """The method and its outputs in one transaction; a file written before a failure is removed."""
    written: list[ImportedOutput] = []
    try:
        with transaction.atomic():
            order = (experiment.methods.order_by("-order").values_list("order", flat=True).first() or 0) + 1
            method = Method.objects.create(experiment=experiment, label=label, kind=Method.Kind.IMPORTED,
                                           order=order)  # fmt: skip
            for row in planned:
                output = ImportedOutput(method=method, video=row.video, form=form, sound=row.sound,
                                        source=row.source, sha256=row.sha256,
                                        duration=row.duration)  # fmt: skip
                if row.path is not None:
                    with row.path.open("rb") as fh:
                        output.file.save(row.path.name, File(fh), save=False)
                    written.append(output)
                output.save()
    except Exception:
        for output in written:
            output.file.delete(save=False)
        raise
    return method
