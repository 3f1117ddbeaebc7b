"""What the tasks do, as plain functions: claim a stimulus, make its soundtrack, mux, record.

Several workers on several machines may hold the same stimulus id (a re-run build, a redelivered
message). A stimulus is claimed with a conditional UPDATE (pending -> running, attempts + 1) and
finished with another one that only matches the claim it made; a worker that lost its claim
deletes the file it wrote instead of recording it. So a stimulus ends with exactly one file.
"""

import contextlib
import logging
import random
import tempfile
import uuid
from datetime import timedelta
from pathlib import Path

import numpy as np
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import InterfaceError, OperationalError
from django.db.models import F, Q
from django.utils import timezone

import media
from evalsite.experiments import importer, provenance
from evalsite.experiments.models import Experiment, ImportedOutput, Method, Sound, Stimulus
from media import MediaError, MediaInfo
from workers import audio, mux
from workers.heartbeats import beating
from workers.signals import work_claimed
from workers.storage import is_local, local_file

log = logging.getLogger(__name__)
Status = Stimulus.Status
TRAP_TEXT = "This is an attention check. Please select the score {n}."
TRAP_START = 0.5  # seconds of the clip before the spoken instruction starts
TRAP_DUCK_DB = -20.0  # the video's own sound under the instruction
GOLD_EXPECTED = 2  # the highest score a participant may give a gold clip and pass
TRAINING_KINDS = tuple(Stimulus.ControlKind.values)  # the order training clips cycle through
MAX_ATTEMPTS = 10  # claims of one stimulus by redelivered or retried tasks before it fails


# --- claiming -------------------------------------------------------------------------------


def claim(stimulus_id: int, reclaim: bool = False) -> int | None:
    """Marks a pending stimulus running and returns its attempt number, or None when it is not
    ours to build (done, failed, or running elsewhere). `reclaim` (a redelivered message, a
    retry) also takes a running one; so does a claim older than the hard time limit, whose task
    cannot still be alive."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT)
    takeable = Q(status=Status.PENDING) | Q(status=Status.RUNNING, started_at__lt=stale)
    if reclaim:
        takeable |= Q(status=Status.RUNNING)
    rows = Stimulus.objects.filter(takeable, pk=stimulus_id).update(
        status=Status.RUNNING, attempts=F("attempts") + 1, started_at=now, heartbeat_at=now, error=""
    )
    if rows == 0:
        return None
    return Stimulus.objects.values_list("attempts", flat=True).get(pk=stimulus_id)


def _ours(stimulus_id: int, attempt: int):
    return Stimulus.objects.filter(pk=stimulus_id, status=Status.RUNNING, attempts=attempt)


def fail(stimulus_id: int, attempt: int | None, message: str) -> bool:
    """Records a readable error; with no attempt, fails the stimulus whatever claimed it."""
    rows = Stimulus.objects.filter(pk=stimulus_id).exclude(status=Status.DONE)
    if attempt is not None:
        rows = _ours(stimulus_id, attempt)
    return bool(rows.update(status=Status.FAILED, error=message[:4000], finished_at=timezone.now()))


def release(stimulus_id: int, attempt: int) -> None:
    """Hands a claim back (before a retry), so that any worker may take it."""
    _ours(stimulus_id, attempt).update(status=Status.PENDING)


# --- building one stimulus --------------------------------------------------------------------


def build_stimulus(stimulus_id: int, reclaim: bool = False) -> str:
    """Builds one stimulus if it is ours to build; returns what happened ("done", "skipped",
    "failed"). A transient error (database or network) hands the claim back and propagates for
    the task to retry; any other error is this stimulus's input problem (or a bug): the
    stimulus fails with a readable error and the build goes on."""
    attempt = claim(stimulus_id, reclaim)
    if attempt is None:
        return "skipped"
    if reclaim and attempt > MAX_ATTEMPTS:
        # A message that kills its worker every time (reject_on_worker_lost requeues it) stops here.
        fail(stimulus_id, attempt, f"gave up after {attempt - 1} attempts: the worker stopped each time")
        return "failed"
    stimulus = Stimulus.objects.select_related(
        "experiment__sound_library", "video", "method__trained_model", "sound"
    ).get(pk=stimulus_id)
    built_from = provenance.as_built(stimulus)  # read before the work, from the same rows
    try:
        with beating(_ours(stimulus_id, attempt)):
            work_claimed.send(sender=Stimulus, pk=stimulus_id)
            name, fields = _make_file(stimulus)
    except TRANSIENT:
        with contextlib.suppress(Exception):
            release(stimulus_id, attempt)
        raise
    except Exception as exc:
        if not isinstance(exc, (ValueError, OSError, LookupError)):
            log.exception("stimulus %s failed", stimulus_id)
        fail(stimulus_id, attempt, describe(stimulus, exc))
        return "failed"
    old = stimulus.file.name
    recorded = _ours(stimulus_id, attempt).update(
        status=Status.DONE, file=name, finished_at=timezone.now(), error="", built_from=built_from, **fields
    )
    if not recorded:  # someone else took the stimulus over meanwhile: their file stands
        default_storage.delete(name)
        return "skipped"
    if old and old != name:
        default_storage.delete(old)
    return "done"


# Errors worth a retry: the database, the broker or a network share briefly away.
TRANSIENT = (OperationalError, InterfaceError, ConnectionError, TimeoutError)


def describe(stimulus: Stimulus, exc: BaseException) -> str:
    what = stimulus.method.label if stimulus.method else stimulus.role
    if isinstance(exc, SoftTimeLimitExceeded):
        reason = f"took longer than the {settings.CELERY_TASK_SOFT_TIME_LIMIT} s time limit"
    else:
        reason = str(exc) or type(exc).__name__
    return f"{what} / video '{stimulus.video.name}': {reason}"


def _make_file(stimulus: Stimulus) -> tuple[str, dict]:
    experiment = stimulus.experiment
    spec = mux.MixSpec(
        mode=experiment.mux_mode, gain_db=experiment.overlay_gain_db, duck_db=experiment.duck_db,
        loudness_lufs=experiment.loudness_lufs,
    )  # fmt: skip
    with local_file(stimulus.video.file) as video_path:
        # A length mismatch is used up to its shorter stream, as the import measured it.
        info = media.trimmed(mux.probe_video(video_path), stimulus.video.duration)
        track, fields = soundtrack(stimulus, video_path, info, spec)
        name = f"stimuli/{uuid.uuid4().hex}.mp4"
        store(video_path, info, track, name)
    fields["duration"] = info.duration
    return name, fields


def store(video_path: Path, info: MediaInfo, track: np.ndarray, name: str) -> None:
    """Writes the MP4 under `name` in the default storage; on a local disk straight through a
    temporary name in the same folder (renamed at the end), elsewhere through a local temp file."""
    if is_local(default_storage):
        target = Path(default_storage.path(name))
        target.parent.mkdir(parents=True, exist_ok=True)
        mux.write_mp4(video_path, info, track, target)
        try:
            check_built(target)
        except MediaError:
            target.unlink(missing_ok=True)
            raise
        return
    with tempfile.TemporaryDirectory(prefix="stimulus-") as work:
        local = Path(work) / "out.mp4"
        mux.write_mp4(video_path, info, track, local)
        check_built(local)
        with open(local, "rb") as fh:
            saved = default_storage.save(name, File(fh))
        if saved != name:
            raise OSError(f"storage saved {name} as {saved}")


def check_built(path: Path) -> None:
    """A clip is done only when it decodes to its end, picture and sound: the import's check
    (a damaged stored video would otherwise give a clip with a frozen picture)."""
    try:
        media.check_video(importer.probe(path, "the built clip"), media.Needs(audio=True))
    except MediaError as exc:
        raise MediaError(f"{exc}; is the stored video damaged?") from None


# --- soundtracks ----------------------------------------------------------------------------


def soundtrack(stimulus: Stimulus, video_path: Path, info: MediaInfo, spec: mux.MixSpec):
    """The clip's audio and the fields to record with it, by role and method."""
    if stimulus.role == Stimulus.Role.GOLD:
        return gold_track(stimulus, info, spec), {}
    if stimulus.role == Stimulus.Role.TRAP:
        return trap_track(stimulus, video_path, info, spec), {}
    kind = stimulus.method.kind if stimulus.method is not None else training_kind(stimulus)
    if kind == "gold":
        return gold_track(stimulus, info, spec), {}
    if kind == Method.Kind.ORIGINAL:
        original = own_sound(stimulus, video_path, info, "the original soundtrack")
        return mux.mix(info.duration, spec, original=original), {}
    if kind == Method.Kind.IMPORTED:
        return imported_track(stimulus, video_path, info, spec)
    sound = stimulus.sound
    if sound is None and kind == Method.Kind.RANDOM:
        sound = random_sound(stimulus)
    if sound is None:
        raise ValueError("no sound was retrieved for it")
    return sound_track(stimulus, sound, video_path, info, spec)


def sound_track(stimulus, sound: Sound, video_path: Path, info, spec):
    with local_file(sound.file) as path:
        wave = mux.read_audio(path)
    sound_onset = sound.onset if sound.onset is not None else audio.audio_onset(wave, mux.SAMPLE_RATE)
    video_onset = stimulus.video.effect_onset
    if video_onset is None:
        video_onset = mux.visual_onset(video_path)
    offset = mux.alignment_offset(video_onset, sound_onset)
    original = None
    if spec.mode == Experiment.MuxMode.OVERLAY:
        original = own_sound(stimulus, video_path, info, "overlay mode")
    track = mux.mix(info.duration, spec, sound=wave, offset=offset, original=original)
    return track, {"sound": sound, "sound_offset": offset}


def imported_track(stimulus, video_path: Path, info, spec):
    """An outside system's output for the clip: a chosen library sound goes the way of a trained
    model's (`sound_track`: onset alignment, the mux mode, loudness); a soundtrack spans the clip,
    so it starts at 0 and replaces or overlays as the mux mode says; a finished clip's own sound
    replaces the soundtrack under the study's picture. Each is matched to the target loudness."""
    output = ImportedOutput.objects.select_related("sound").get(method=stimulus.method, video=stimulus.video)
    if output.sound is not None:
        return sound_track(stimulus, output.sound, video_path, info, spec)
    with local_file(output.file) as path:
        wave = mux.read_audio(path)
    if output.form == ImportedOutput.Form.CLIPS:
        spec = mux.MixSpec(Experiment.MuxMode.REPLACE, loudness_lufs=spec.loudness_lufs)
    original = None
    if spec.mode == Experiment.MuxMode.OVERLAY:
        original = own_sound(stimulus, video_path, info, "overlay mode")
    return mux.mix(info.duration, spec, sound=wave, original=original), {}


def own_sound(stimulus, video_path, info, needed_by: str) -> np.ndarray:
    if not info.has_audio:
        raise ValueError(f"{stimulus.video.file.name} has no audio stream, which {needed_by} needs")
    return mux.read_audio(video_path)


def gold_track(stimulus, info, spec) -> np.ndarray:
    noise = audio.harsh_noise(info.duration, mux.SAMPLE_RATE, seed=stimulus.experiment.seed)
    return mux.mix(info.duration, mux.MixSpec("replace", loudness_lufs=spec.loudness_lufs), sound=noise)


def trap_track(stimulus, video_path, info, spec) -> np.ndarray:
    from retrieval.speech import speak

    speech = speak(TRAP_TEXT.format(n=stimulus.expected_score), mux.SAMPLE_RATE)
    needed = TRAP_START + len(speech) / mux.SAMPLE_RATE
    if needed > info.duration:
        raise ValueError(f"the clip is {info.duration:.1f} s; the spoken instruction needs {needed:.1f} s")
    original = mux.read_audio(video_path) if info.has_audio else None
    trap_spec = mux.MixSpec("overlay", 0.0, TRAP_DUCK_DB, spec.loudness_lufs)
    return mux.mix(info.duration, trap_spec, sound=speech, offset=TRAP_START, original=original)


def training_kind(stimulus: Stimulus) -> str:
    """Control stimuli have no method; a training clip's kind is its `control_kind`."""
    if stimulus.control_kind not in Stimulus.ControlKind.values:
        raise ValueError(f"training stimulus {stimulus.label!r} has no control kind "
                         f"(one of {', '.join(Stimulus.ControlKind.values)})")
    return stimulus.control_kind


def random_sound(stimulus: Stimulus) -> Sound:
    """A library sound drawn with the experiment's seed, the same on every run and machine."""
    library = stimulus.experiment.sound_library
    if library is None:
        raise ValueError("the experiment has no sound library")
    sounds = library.sounds.order_by("pk")
    count = sounds.count()
    if count == 0:
        raise ValueError(f"sound library '{library}' is empty")
    # Keyed by what a copy of the experiment keeps (not row ids), so a re-created study draws alike.
    what = stimulus.method.label if stimulus.method else f"{stimulus.role}:{stimulus.label}"
    key = f"{stimulus.experiment.seed}:{stimulus.video.sha256 or stimulus.video.name}:{what}"
    return sounds[random.Random(key).randrange(count)]
