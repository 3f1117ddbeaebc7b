"""The gpu-queue work: embed a sound library with a model, embed videos, pick the top-1 sound."""

import logging
import time
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db.models import F
from django.utils import timezone

from evalsite.experiments import provenance
from evalsite.experiments.models import Method, Stimulus
from retrieval.hubness import LIBRARY_OPTIONS, apply_option
from workers import embeddings, search
from workers.model_cache import get_model
from workers.models import EmbeddingChunk, EmbeddingRun
from workers.signals import work_claimed
from workers.stimuli import TRANSIENT, describe
from workers.storage import local_file, local_sound

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


def library_items(library, resolve: bool = True,
                  pks: tuple[int, int] | None = None) -> list[embeddings.SoundItem]:
    """The library's sounds in primary-key order (only those with pk in `pks`, inclusive, if
    given). `resolve=False` gives the cache keys only: no local copy of a remote sound is made
    unless its sha256 is unknown and has to be computed from the file."""
    from retrieval.inference import file_sha256

    storage = library.sounds.model.file.field.storage
    rows = library.sounds.order_by("pk")
    if pks is not None:
        rows = rows.filter(pk__gte=pks[0], pk__lte=pks[1])
    items = []
    for pk, name, sha in rows.values_list("pk", "file", "sha256").iterator(chunk_size=10_000):
        path = local_sound(storage, name, sha) if resolve or not sha else None
        if path is not None and not sha:
            sha = file_sha256(path)
        items.append(embeddings.SoundItem(pk, path, sha))
    return items


def library_of(method: Method):
    library = method.experiment.sound_library
    if library is None:
        raise ValueError(f"experiment '{method.experiment}' has no sound library")
    return library


def library_embeddings(method: Method, progress: bool = False) -> embeddings.LibraryEmbeddings:
    """The library's embeddings: the cached file, or embedded now (chunk by chunk, reusing the
    chunks already done, when the library is larger than settings.EMBEDDING_CHUNK)."""
    library, model = library_of(method), model_for(method)
    keys = library_items(library, resolve=False)
    if not keys:
        raise ValueError("the sound library is empty")
    path = embeddings.cache_path(settings.EMBEDDINGS_DIR, model.sha256, keys)
    if path.exists():
        result = embeddings.load(path)
    elif (run := plan_embedding(method, keys)) is not None:  # larger than settings.EMBEDDING_CHUNK
        result = assemble_run(method, run)
    else:  # small, or its file appeared meanwhile (load_or_embed then reads it)
        result = embeddings.load_or_embed(model, library_items(library), settings.EMBEDDINGS_DIR, progress)
    log.info("library '%s' with %s: %d sounds (%s), %d left out", library, model.sha256[:12],
             len(result.ids), "reused" if result.reused else "embedded", len(result.skipped))
    return result


def plan_embedding(method: Method, keys: list | None = None) -> EmbeddingRun | None:
    """The chunked run of a library larger than settings.EMBEDDING_CHUNK whose file is not cached
    yet (found, or created with its chunks); None when one task does it (small or cached)."""
    library, model = library_of(method), model_for(method)
    keys = library_items(library, resolve=False) if keys is None else keys
    size = settings.EMBEDDING_CHUNK
    if len(keys) <= size or embeddings.cache_path(settings.EMBEDDINGS_DIR, model.sha256, keys).exists():
        return None
    run, created = EmbeddingRun.objects.get_or_create(
        library=library, model_sha256=model.sha256, library_hash=embeddings.library_hash(keys),
        defaults={"sounds": len(keys), "chunk_size": size},
    )  # fmt: skip
    if created or not run.chunks.exists():
        EmbeddingChunk.objects.bulk_create(
            [EmbeddingChunk(run=run, index=i, first_pk=part[0].id, last_pk=part[-1].id, sounds=len(part))
             for i, part in enumerate(chunks_of(keys, run.chunk_size))],
            ignore_conflicts=True,
        )  # fmt: skip
    return run


def chunks_of(keys: list, size: int) -> list[list]:
    return [keys[i : i + size] for i in range(0, len(keys), size)]


def embed_chunk(method: Method, chunk: EmbeddingChunk, worker: str = "") -> Path:
    """Embeds one chunk (its cached file is kept when a killed worker's try had finished it)."""
    EmbeddingChunk.objects.filter(pk=chunk.pk).update(attempts=F("attempts") + 1, worker=worker[:200])
    work_claimed.send(sender=EmbeddingChunk, pk=chunk.pk)
    library, model = library_of(method), model_for(method)
    start = time.perf_counter()
    items = library_items(library, pks=(chunk.first_pk, chunk.last_pk))
    path = embeddings.embed_chunk(model, items, settings.EMBEDDINGS_DIR)
    EmbeddingChunk.objects.filter(pk=chunk.pk).update(
        done_at=timezone.now(), seconds=round(time.perf_counter() - start, 3)
    )
    return path


def assemble_run(method: Method, run: EmbeddingRun) -> embeddings.LibraryEmbeddings:
    """Joins the run's chunk files into the library's file (embedding here any chunk not done)
    and builds the search index for it, so that retrieval only reads both."""
    library, model = library_of(method), model_for(method)
    keys = library_items(library, resolve=False)
    files = []
    for chunk, part in zip(run.chunks.order_by("index"), chunks_of(keys, run.chunk_size), strict=True):
        path = embeddings.chunk_path(settings.EMBEDDINGS_DIR, model.sha256, part)
        files.append(path if path.exists() else embed_chunk(method, chunk, "assemble"))
    target = embeddings.cache_path(settings.EMBEDDINGS_DIR, model.sha256, keys)
    try:
        result = embeddings.assemble(files, target)
    except ValueError as exc:
        EmbeddingRun.objects.filter(pk=run.pk).update(error=str(exc)[:4000])
        raise
    if settings.SEARCH_APPROXIMATE_FROM and len(result.ids) >= settings.SEARCH_APPROXIMATE_FROM:
        search.cached_index(apply_option(result.vectors, method.hubness), result.path,
                            settings.SEARCH_APPROXIMATE_FROM, variant=method.hubness)
    EmbeddingRun.objects.filter(pk=run.pk).update(finished_at=timezone.now(), error="")
    return result


def pending(method: Method):
    return method.stimuli.filter(role=Stimulus.Role.TEST, status=Stimulus.Status.PENDING)


def fail_pending(method: Method, exc: BaseException | str) -> int:
    """A problem of the method itself (checkpoint, library) fails all its pending stimuli."""
    message = f"{method.label}: {exc}"
    return pending(method).update(status=Stimulus.Status.FAILED, error=message[:4000])


def failing_method(method: Method, what: str, work):
    """work()'s result, or None once an error that no retry mends (a bad checkpoint or library)
    has failed the method's pending stimuli: it fails this method, not the build. Transient
    errors (workers.stimuli.TRANSIENT) propagate, for the task to retry."""
    try:
        return work()
    except TRANSIENT:
        raise
    except Exception as exc:
        log.exception("method %s: %s failed", method.pk, what)
        fail_pending(method, exc)
        return None


def retrieve(method: Method, progress: bool = False) -> list[int]:
    """Stores the top-1 sound (distance, rank 1) of every pending stimulus of a model method that
    has none yet; returns the ids of the method's pending stimuli that are ready to mux."""
    todo = list(pending(method).filter(sound__isnull=True).select_related("video", "method"))
    if not todo:
        return list(pending(method).filter(sound__isnull=False).values_list("pk", flat=True))
    used = {"retrieved_with": provenance.retrieval_settings(
        method, provenance.library_fingerprint(method.experiment.sound_library))}  # fmt: skip
    if method.hubness in LIBRARY_OPTIONS:
        model = model_for(method)
        library = library_embeddings(method, progress)
        # the hubness option is a transformation of the library alone: any index over it applies it
        index = search.cached_index(apply_option(library.vectors, method.hubness), library.path,
                                    settings.SEARCH_APPROXIMATE_FROM, model.device, variant=method.hubness,
                                    ef_search=settings.SEARCH_EF)
        for start in range(0, len(todo), VIDEO_BATCH):
            ok, queries = _embed_batch(model, todo[start : start + VIDEO_BATCH])
            if ok:
                idx, dist = index.search(queries, k=1)
                _store(ok, library.ids[idx[:, 0]], dist[:, 0], used)
    else:
        _retrieve_study(method, todo, progress, used)
    return list(pending(method).filter(sound__isnull=False).values_list("pk", flat=True))


def _retrieve_study(method: Method, todo: list[Stimulus], progress: bool, used: dict) -> None:
    """The study options (csls, assign) choose every video's sound at once: all the method's
    videos without a sound are embedded first, and the sounds its other test videos already have
    count against the assignment's capacity."""
    model = model_for(method)
    library = library_embeddings(method, progress)
    ok, queries = [], []
    for start in range(0, len(todo), VIDEO_BATCH):
        batch_ok, batch_queries = _embed_batch(model, todo[start : start + VIDEO_BATCH])
        ok += batch_ok
        queries += [batch_queries] if batch_ok else []
    if not ok:
        return
    tests = method.stimuli.filter(role=Stimulus.Role.TEST)
    held = tests.filter(sound__isnull=False).values_list("sound_id", flat=True)
    position = {int(pk): i for i, pk in enumerate(library.ids)}
    taken = np.bincount([position[pk] for pk in held if pk in position], minlength=len(library.ids))
    idx, dist = search.study_top1(
        method.hubness, np.concatenate(queries), library.vectors, library.path,
        settings.SEARCH_APPROXIMATE_FROM, model.device, ef_search=settings.SEARCH_EF,
        study_size=tests.count(), taken=taken,
    )  # fmt: skip
    _store(ok, library.ids[idx], dist, used)


def _embed_batch(model, stimuli: list[Stimulus]) -> tuple[list[Stimulus], np.ndarray]:
    """The stimuli whose video decodes, with their query embeddings; the others fail."""
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
        return ok, np.zeros((0, 0), np.float32)
    return ok, model.embed_videos(np.stack(frames))


def _store(stimuli: list[Stimulus], sound_ids: np.ndarray, distances: np.ndarray, used: dict) -> None:
    """The chosen sounds, with the settings they were retrieved with (`provenance`)."""
    for stimulus, sound_id, d in zip(stimuli, sound_ids, distances, strict=True):
        Stimulus.objects.filter(pk=stimulus.pk, status=Stimulus.Status.PENDING).update(
            sound_id=int(sound_id), distance=float(d), rank=1, built_from=used
        )


def video_frames(video, preset) -> np.ndarray:
    """The preset's window of the video: from the start, or centred on the effect when the
    video is longer than a sample and its effect onset is known. A video shorter than the window
    (VIDEO_MIN_SECONDS allows it) is padded with its last frame held to the window's end."""
    from retrieval.data import decode_video

    start = 0.0
    if video.effect_onset is not None and video.duration and video.duration > preset.clip_seconds:
        latest = video.duration - preset.clip_seconds
        start = min(max(0.0, video.effect_onset - preset.clip_seconds / 2), latest)
    with local_file(video.file) as path:
        return decode_video(path, preset, start=start, seconds=video.duration or None)
