"""Checking and importing media: every file is decoded to its end before anything is stored.

A bad file raises `media.MediaError` naming the file and the problem; the importers report it and
go on with the next file, so one broken clip never stops (or half-stores) an import.
"""

import hashlib
from dataclasses import dataclass
from pathlib import Path

from django.core.files import File
from django.db import IntegrityError, transaction

from media import MediaError, MediaInfo
from media import probe as probe_media

from .models import Sound, SoundLibrary, Video

VIDEO_SUFFIXES = {".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts"}
SOUND_SUFFIXES = {".wav", ".flac", ".mp3", ".ogg", ".oga", ".opus", ".m4a", ".aac", ".aif", ".aiff"}


@dataclass
class Outcome:
    """What happened to one file of an import."""

    path: str
    kind: str  # "video" or "sound"
    status: str  # "imported", "exists" or "failed"
    message: str = ""
    obj: object = None


def probe(source, name: str) -> MediaInfo:
    """A path or file object decoded to its end (`media.probe(complete=True)`)."""
    info = probe_media(source, name, complete=True)
    if not info.streams:
        raise MediaError(f"{name}: has neither a video nor an audio stream")
    if not info.duration > 0:
        raise MediaError(f"{name}: duration is zero or unknown")
    return info


def check_video(info: MediaInfo, name: str) -> MediaInfo:
    if not info.has_video:
        raise MediaError(f"{name}: has no video stream (is it a sound file?)")
    return info


def check_sound(info: MediaInfo, name: str) -> MediaInfo:
    if not info.has_audio:
        raise MediaError(f"{name}: has no audio stream")
    return info


def sha256_of(fileobj) -> str:
    digest = hashlib.sha256()
    fileobj.seek(0)
    for chunk in iter(lambda: fileobj.read(1 << 20), b""):
        digest.update(chunk)
    fileobj.seek(0)
    return digest.hexdigest()


def video_fields(info: MediaInfo) -> dict:
    return {
        "duration": info.duration,
        "width": info.width,
        "height": info.height,
        "fps": float(info.fps) if info.fps else None,
        "has_audio": info.has_audio,
    }


def sound_fields(info: MediaInfo) -> dict:
    return {"duration": info.duration, "sample_rate": info.sample_rate}


def import_video(path: Path, *, name: str | None = None, effect_onset=None, source: str = "") -> Outcome:
    path = Path(path)
    try:
        info = check_video(probe(str(path), str(path)), str(path))
        with path.open("rb") as handle:
            digest = sha256_of(handle)
            existing = Video.objects.filter(sha256=digest).first()
            if existing:
                return _known_video(path, existing, effect_onset)
            video = Video(
                name=name or path.stem,
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
        return Outcome(str(path), "video", "failed", _reason(exc, path))
    return Outcome(str(path), "video", "imported", "", video)


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
        info = check_sound(probe(str(path), str(path)), str(path))
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
        return Outcome(str(path), "sound", "failed", _reason(exc, path))
    return Outcome(str(path), "sound", "imported", "", sound)


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
    name, n = wanted, 1
    while library.sounds.filter(name=name).exists():
        n += 1
        name = f"{wanted}-{n}"
    return name


def media_files(folder: Path, suffixes: set[str]) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise MediaError(f"{folder}: not a folder")
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in suffixes)


def import_video_folder(folder: Path) -> list[Outcome]:
    return [import_video(path) for path in media_files(folder, VIDEO_SUFFIXES)]


def import_sound_folder(folder: Path, library: SoundLibrary) -> list[Outcome]:
    return [import_sound(path, library) for path in media_files(folder, SOUND_SUFFIXES)]


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
