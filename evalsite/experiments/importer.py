"""Importing media: every file is decoded to its end and checked before anything is stored.

A bad file raises `media.MediaError` naming the file and the problem; the importers report it and
go on with the next file, so one broken clip never stops (or half-stores) an import. The checks
are `media.check_video` / `media.check_sound` with the site's limits (`video_needs`): a video is
refused when it is truncated, shorter than VIDEO_MIN_SECONDS once trimmed to its shorter stream,
longer than VIDEO_MAX_SECONDS or larger than VIDEO_MAX_LONG_SIDE x VIDEO_MAX_SHORT_SIDE; whether
it has a soundtrack, a length mismatch and how a video shorter than the model's window is treated
are reported. Every file of a folder is tried, whatever its suffix (FFmpeg reads far more
containers than any list), and gets its own line; only a file that is not media and has no media
suffix (`media.MEDIA_SUFFIXES`) is "skipped".
"""

import hashlib
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.db import IntegrityError, transaction

import media
from media import MEDIA_SUFFIXES, MediaError, MediaInfo, Needs
from media import probe as probe_media
from retrieval.presets import WINDOW_SECONDS

from .models import Sound, SoundLibrary, Video


@dataclass
class Outcome:
    """What happened to one file of an import."""

    path: str
    kind: str  # "video" or "sound"
    status: str  # "imported", "exists", "failed" or "skipped"
    message: str = ""
    obj: object = None
    facts: str = ""  # what the probe found: "6.5 s, 640x360, audio"


def probe(source, name: str) -> MediaInfo:
    """A path or file object decoded to its end (`media.probe(complete=True)`)."""
    info = probe_media(source, name, complete=True)
    if not info.streams:
        raise MediaError(f"{name}: has neither a video nor an audio stream")
    if not info.duration > 0:
        raise MediaError(f"{name}: duration is zero or unknown")
    return info


def video_needs() -> Needs:
    """What the site needs of a video: its settings' limits, named in the messages."""
    return Needs(
        min_seconds=settings.VIDEO_MIN_SECONDS, minimum="VIDEO_MIN_SECONDS",
        max_seconds=settings.VIDEO_MAX_SECONDS, longest="VIDEO_MAX_SECONDS",
        max_long_side=settings.VIDEO_MAX_LONG_SIDE, max_short_side=settings.VIDEO_MAX_SHORT_SIDE,
        largest="VIDEO_MAX_LONG_SIDE x VIDEO_MAX_SHORT_SIDE, either orientation",
    )  # fmt: skip


def check_video(info: MediaInfo) -> MediaInfo:
    """Refuses what participants could not watch as a clip, naming the problem and the limit."""
    return media.check_video(info, video_needs())


def check_sound(info: MediaInfo) -> MediaInfo:
    return media.check_sound(info)


def describe(info: MediaInfo) -> str:
    """'6.50 s, 640x360, audio' / 'no audio', then a length mismatch and a short video's treatment:
    what an import line and the admin picker show."""
    seconds = media.usable_seconds(info)
    size = f", {info.width}x{info.height}" if info.has_video else ""
    facts = f"{seconds:.2f} s{size}, {'audio' if info.has_audio else 'no audio'}{media.describe_length(info)}"
    if info.has_video and seconds < WINDOW_SECONDS - media.VIDEO_TOLERANCE_S:
        facts += (f"; shorter than the models' {WINDOW_SECONDS:g} s window: embedded with its last frame "
                  "held to the window's end, shown as it is")
    return facts


def sha256_of(fileobj) -> str:
    digest = hashlib.sha256()
    fileobj.seek(0)
    for chunk in iter(lambda: fileobj.read(1 << 20), b""):
        digest.update(chunk)
    fileobj.seek(0)
    return digest.hexdigest()


def video_fields(info: MediaInfo) -> dict:
    return {
        "duration": media.usable_seconds(info),
        "width": info.width,
        "height": info.height,
        "fps": float(info.fps) if info.fps else None,
        "has_audio": info.has_audio,
    }


def sound_fields(info: MediaInfo) -> dict:
    return {"duration": info.duration, "sample_rate": info.sample_rate}


def import_video(path: Path, *, name: str | None = None, effect_onset=None, source: str = "") -> Outcome:
    """`name` defaults to the file name with its suffix (door.mp4 and door.ogv stay apart); a
    name already taken gets "-2", "-3", ..."""
    path = Path(path)
    info = None
    try:
        media.check_limits(probe_media(str(path), str(path)), video_needs())  # headers only: cheap
        info = check_video(probe(str(path), str(path)))
        with path.open("rb") as handle:
            digest = sha256_of(handle)
            existing = Video.objects.filter(sha256=digest).first()
            if existing:
                return _known_video(path, existing, effect_onset)
            video = Video(
                name=_free_name(Video.objects, name or path.name),
                sha256=digest,
                effect_onset=effect_onset,
                source=source or str(path),
                **video_fields(info),
            )
            _store(video, path, handle)
    except IntegrityError:
        # Another import stored the same content between our check and our insert.
        return _known_video(path, Video.objects.get(sha256=digest), effect_onset)
    except (MediaError, OSError) as exc:
        return _refused(path, "video", exc)
    return Outcome(str(path), "video", "imported", "", video, describe(info))


def _refused(path: Path, kind: str, exc: Exception) -> Outcome:
    if path.suffix.lower() not in MEDIA_SUFFIXES and "not a readable media file" in str(exc):
        return Outcome(str(path), kind, "skipped", f"{path}: not a media file")
    return Outcome(str(path), kind, "failed", _reason(exc, path))


def _known_video(path: Path, video: Video, effect_onset) -> Outcome:
    message = f"already imported as {video.name!r}"
    if effect_onset is not None and video.effect_onset is None:
        # A dataset that knows the effect's onset completes a clip imported from a plain folder.
        Video.objects.filter(pk=video.pk).update(effect_onset=effect_onset)
        message += f"; effect onset set to {effect_onset:g} s"
    return Outcome(str(path), "video", "exists", message, video)


def import_sound(
    path: Path,
    library: SoundLibrary,
    *,
    name: str | None = None,
    sound_class: str = "",
    source: str = "",
    onset: float | None = None,
) -> Outcome:
    path = Path(path)
    try:
        info = check_sound(probe(str(path), str(path)))
        with path.open("rb") as handle:
            digest = sha256_of(handle)
            existing = library.sounds.filter(sha256=digest).first()
            if existing:
                return Outcome(
                    str(path), "sound", "exists", f"already in the library as {existing.name!r}", existing
                )
            sound = Sound(
                library=library,
                name=_free_sound_name(library, name or path.stem),
                sha256=digest,
                sound_class=sound_class,
                onset=onset,
                source=source or str(path),
                **sound_fields(info),
            )
            _store(sound, path, handle)
    except IntegrityError as exc:
        existing = library.sounds.filter(sha256=digest).first()
        if existing is None:  # a name taken meanwhile: report it, the next run picks a free one
            return Outcome(str(path), "sound", "failed", f"{path}: {exc}")
        return Outcome(str(path), "sound", "exists", f"already in the library as {existing.name!r}", existing)
    except (MediaError, OSError) as exc:
        return _refused(path, "sound", exc)
    return Outcome(str(path), "sound", "imported", "", sound, describe(info))


def _reason(exc: Exception, path: Path) -> str:
    text = str(exc)
    return text if str(path) in text else f"{path}: {text}"


def _store(obj, path: Path, handle):
    # The row and its file together: a failing insert removes the copied file again.
    obj.file.save(path.name, File(handle), save=False)
    try:
        with transaction.atomic():
            obj.save()
    except Exception:
        obj.file.delete(save=False)
        raise


def _free_sound_name(library: SoundLibrary, wanted: str) -> str:
    return _free_name(library.sounds, wanted)


def _free_name(rows, wanted: str) -> str:
    name, n = wanted, 1
    while rows.filter(name=name).exists():
        n += 1
        name = f"{wanted}-{n}"
    return name


def media_files(folder: Path) -> list[Path]:
    """Every file under `folder`: each gets a line, imported, refused or skipped."""
    folder = Path(folder)
    if not folder.is_dir():
        raise MediaError(f"{folder}: not a folder")
    return sorted(p for p in folder.rglob("*") if p.is_file())


def import_video_folder(folder: Path) -> list[Outcome]:
    return [import_video(path) for path in media_files(folder)]


def import_sound_folder(folder: Path, library: SoundLibrary) -> list[Outcome]:
    return [import_sound(path, library) for path in media_files(folder)]


def import_dataset(dataset_dir: Path, split: str, library: SoundLibrary | None) -> list[Outcome]:
    """The split's clips become videos (se_onset -> effect_onset), its audio files the library's sounds."""
    from retrieval.data.manifest import read_manifest  # raises DatasetError naming file and row

    rows = [row for row in read_manifest(dataset_dir) if row.split == split]
    if not rows:
        raise MediaError(f"{Path(dataset_dir) / 'manifest.csv'}: no rows in split {split!r}")
    outcomes = []
    for row in rows:
        source = f"{dataset_dir}:{row.clip_id}"
        outcomes.append(import_video(row.video, name=row.clip_id, effect_onset=row.se_onset, source=source))
        if library is not None:
            outcomes.append(
                import_sound(
                    row.audio,
                    library,
                    name=row.clip_id,
                    sound_class=row.se_class or "",
                    source=source,
                    # A dataset sample is a full mix: its effect's onset cannot be found by a
                    # loudness detector, the manifest knows it.
                    onset=row.se_onset,
                )
            )
    return outcomes
