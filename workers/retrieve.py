"""The gpu-queue work: embed a sound library with a model, embed videos, pick the top-1 sound."""

import hashlib
import logging
import os
import shutil
import uuid
from pathlib import Path

import numpy as np
from django.conf import settings

from evalsite.experiments.models import Method, Stimulus
from retrieval.hubness import apply_option, hub_share
from workers import embeddings, search
from workers.model_cache import get_model
from workers.stimuli import describe, is_local, local_file

log = logging.getLogger(__name__)
VIDEO_BATCH = 16  # videos decoded and embedded at a time


def checkpoint_path(trained_model) -> Path:
    path = Path(trained_model.checkpoint)
    if not path.is_absolute():
        path = settings.MODELS_DIR / path
    return path


def model_for(method: Method):
    tm = method.trained_model
    if tm is None:
        raise ValueError(f"method '{method}' has no trained model")
    return get_model(checkpoint_path(tm), tm.checkpoint_sha256)


def library_items(library) -> list[embeddings.SoundItem]:
    from retrieval.inference import file_sha256

    storage = library.sounds.model.file.field.storage
    items = []
    for pk, name, sha in library.sounds.order_by("pk").values_list("pk", "file", "sha256"):
        path = local_sound(storage, name, sha)
        items.append(embeddings.SoundItem(pk, path, sha or file_sha256(path)))
    return items


def local_sound(storage, name: str, sha256: str) -> Path:
    """The sound's file on this machine: itself on a local or shared disk; from a remote storage
    (no paths), a copy kept under EMBEDDINGS_DIR/sounds, named by content (or name) hash."""
    if is_local(storage):
        return Path(storage.path(name))
    key = sha256 or hashlib.sha256(name.encode()).hexdigest()
    target = settings.EMBEDDINGS_DIR / "sounds" / f"{key}{Path(name).suffix}"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".tmp-{uuid.uuid4().hex}")
        try:
            with storage.open(name, "rb") as src, open(tmp, "wb") as dst:
                shutil.copyfileobj(src, dst)
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
    return target


def library_embeddings(method: Method, progress: bool = False) -> embeddings.LibraryEmbeddings:
    library = method.experiment.sound_library
    if library is None:
        raise ValueError(f"experiment '{method.experiment}' has no sound library")
    model = model_for(method)
    result = embeddings.load_or_embed(model, library_items(library), settings.EMBEDDINGS_DIR, progress)
    log.info("library '%s' with %s: %d sounds (%s), %d left out", library, model.sha256[:12],
             len(result.ids), "reused" if result.reused else "embedded", len(result.skipped))
    return result


def pending(method: Method):
    return method.stimuli.filter(role=Stimulus.Role.TEST, status=Stimulus.Status.PENDING)


def fail_pending(method: Method, exc: BaseException | str) -> int:
    """A problem of the method itself (checkpoint, library) fails all its pending stimuli."""
    message = f"{method.label}: {exc}"
    return pending(method).update(status=Stimulus.Status.FAILED, error=message[:4000])


def retrieve(method: Method, progress: bool = False) -> list[int]:
    """Stores the top-1 sound (distance, rank 1) of every pending stimulus of a model method that
    has none yet; returns the ids of the method's pending stimuli that are ready to mux."""
    todo = list(pending(method).filter(sound__isnull=True).select_related("video", "method"))
    if todo:
        model = model_for(method)
        library = library_embeddings(method, progress)
        # the hubness option is a transformation of the library alone: any index over it applies it
        index = search.ExactIndex(apply_option(library.vectors, method.hubness), model.device)
        for start in range(0, len(todo), VIDEO_BATCH):
            _retrieve_batch(model, library.ids, index, todo[start : start + VIDEO_BATCH])
    return list(pending(method).filter(sound__isnull=False).values_list("pk", flat=True))


def _retrieve_batch(model, ids: np.ndarray, index: search.ExactIndex, stimuli: list[Stimulus]) -> None:
    frames, ok = [], []
    for stimulus in stimuli:
        try:
            frames.append(video_frames(stimulus.video, model.preset))
            ok.append(stimulus)
        except (ValueError, OSError) as exc:  # MediaError: corrupt, no video stream, too short
            Stimulus.objects.filter(pk=stimulus.pk, status=Stimulus.Status.PENDING).update(
                status=Stimulus.Status.FAILED, error=describe(stimulus, exc)[:4000]
            )
    if not ok:
        return
    queries = model.embed_videos(np.stack(frames))
    idx, dist = index.search(queries, k=1)
    for stimulus, i, d in zip(ok, idx[:, 0], dist[:, 0], strict=True):
        Stimulus.objects.filter(pk=stimulus.pk, status=Stimulus.Status.PENDING).update(
            sound_id=int(ids[i]), distance=float(d), rank=1
        )


def hub_shares(experiment) -> dict[str, dict]:
    """Per method with retrieved sounds: how many test videos have one, how many distinct sounds
    they got, and the hub share (share of those videos given the method's most chosen sound)."""
    out = {}
    for method in experiment.methods.exclude(kind=Method.Kind.ORIGINAL):
        sounds = list(method.stimuli.filter(role=Stimulus.Role.TEST, sound__isnull=False)
                      .values_list("sound_id", flat=True))
        if sounds:
            _, first = np.unique(sounds, return_inverse=True)
            out[method.label] = {"videos": len(sounds), "distinct": len(set(sounds)),
                                 "hub_share": hub_share(first), "hubness": method.hubness}
    return out


def video_frames(video, preset) -> np.ndarray:
    """The preset's window of the video: from the start, or centred on the effect when the
    video is longer than a sample and its effect onset is known."""
    from retrieval.data import decode_video

    start = 0.0
    if video.effect_onset is not None and video.duration and video.duration > preset.clip_seconds:
        latest = video.duration - preset.clip_seconds
        start = min(max(0.0, video.effect_onset - preset.clip_seconds / 2), latest)
    with local_file(video.file) as path:
        return decode_video(path, preset, start=start)
