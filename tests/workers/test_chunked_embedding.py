"""A library embedded in chunks: in this process, and by real workers on Redis, one killed."""

import numpy as np
import pytest

from evalsite.experiments.models import Method
from tests.conftest import REDIS_URL
from tests.workers.conftest import experiment, library, trained_model, video_row
from tests.workers.hold import Hold
from tests.workers.test_worker import finished, wait_for, wait_past_visibility_timeout, worker_settings
from workers import embeddings, retrieve
from workers.build import build_progress, enqueue_build
from workers.model_cache import get_model
from workers.models import EmbeddingChunk, EmbeddingRun


def model_method(media_root, checkpoint, sounds):
    video, _ = video_row(media_root, "v", flash_at=2.0)
    exp = experiment([video], library(media_root, n=sounds), ("model",), trained_model(checkpoint))
    return exp, Method.objects.get(experiment=exp)


def embed_directly(checkpoint, method, keep=None):
    model = get_model(checkpoint)
    items = retrieve.library_items(method.experiment.sound_library)
    items = items if keep is None else [items[i] for i in keep]
    windows = [embeddings.sound_window(i.path, model.preset)[None] for i in items]
    return np.stack([model.embed_sounds(w)[0] for w in windows])


@pytest.mark.django_db
def test_chunks_give_the_same_embeddings_and_a_rerun_reuses_them(media_root, checkpoint, settings):
    settings.EMBEDDING_CHUNK = 2
    exp, method = model_method(media_root, checkpoint, sounds=5)
    (media_root / "sounds" / "s3.wav").write_bytes(b"RIFF not a wave")  # left out, with its reason
    run = retrieve.plan_embedding(method)
    assert [(c.index, c.sounds) for c in run.chunks.all()] == [(0, 2), (1, 2), (2, 1)]
    first = run.chunks.get(index=0)
    chunk_file = retrieve.embed_chunk(method, first, "here")
    result = retrieve.library_embeddings(method)  # the other chunks are embedded while assembling
    ids = list(exp.sound_library.sounds.order_by("pk").values_list("pk", flat=True))
    assert result.ids.tolist() == ids[:3] + ids[4:]
    assert "s3.wav" in result.skipped[ids[3]]
    direct = embed_directly(checkpoint, method, keep=[0, 1, 2, 4])
    np.testing.assert_allclose(result.vectors, direct, rtol=1e-4, atol=1e-4)
    run.refresh_from_db()
    assert run.finished_at is not None and run.chunks_done == 3
    assert list(run.chunks.values_list("attempts", flat=True)) == [1, 1, 1]
    assert retrieve.plan_embedding(method) is None  # the library's file is cached now
    mtime = chunk_file.stat().st_mtime_ns
    result.path.unlink()  # the library file lost: the run is reassembled from the chunk files
    again = retrieve.library_embeddings(method)
    np.testing.assert_array_equal(again.vectors, result.vectors)
    assert chunk_file.stat().st_mtime_ns == mtime
    assert EmbeddingRun.objects.count() == 1


@pytest.mark.django_db
def test_a_library_of_only_bad_sounds_fails_the_run_with_its_reason(media_root, checkpoint, settings):
    settings.EMBEDDING_CHUNK = 1
    exp, method = model_method(media_root, checkpoint, sounds=2)
    for path in (media_root / "sounds").iterdir():
        path.write_bytes(b"")
    with pytest.raises(ValueError, match="none of the 2 sounds could be embedded.*s0.wav"):
        retrieve.library_embeddings(method)
    assert "none of the 2 sounds" in EmbeddingRun.objects.get().error


@pytest.mark.redis
@pytest.mark.slow
def test_a_chunked_embedding_survives_a_worker_killed_mid_chunk(
    start_worker, media_root, checkpoint, purge_broker
):
    exp, method = model_method(media_root, checkpoint, sounds=12)
    env = {**worker_settings(media_root), "CELERY_VISIBILITY_TIMEOUT": "3", "EMBEDDING_CHUNK": "2"}
    hold = Hold(REDIS_URL, after_done=1)
    first = start_worker("default,gpu,media", env={**env, **hold.env()}, include="tests.workers.hold")
    enqueue_build(exp.pk)
    chunks = EmbeddingChunk.objects.filter(run__library=exp.sound_library)
    # Killed with a chunk done and the next one started (held there): its message stays unacknowledged.
    held = hold.wait(first)
    first.kill()
    done_before = {c.index: c for c in chunks.filter(done_at__isnull=False)}
    stranded = list(chunks.filter(done_at__isnull=True, attempts__gt=0).values_list("index", flat=True))
    assert stranded == [chunks.get(pk=held).index]
    cache, sha = media_root.parent / "embeddings", get_model(checkpoint).sha256
    keys = retrieve.library_items(exp.sound_library, resolve=False)
    files = {i: embeddings.chunk_path(cache, sha, retrieve.chunks_of(keys, 2)[i]) for i in done_before}
    mtimes = {i: f.stat().st_mtime_ns for i, f in files.items()}
    assert 1 <= len(done_before) < 6
    wait_past_visibility_timeout(purge_broker, 3)  # then the new worker takes the dead one's messages
    start_worker("default,gpu,media", env=env)
    progress = wait_for(exp, finished)
    assert progress["Model"]["done"] == 1, [s.error for s in exp.stimuli.all()]
    run = EmbeddingRun.objects.get(library=exp.sound_library)
    assert run.finished_at is not None and run.chunks_done == 6
    # The chunk being embedded at the kill was redone; the finished ones were never embedded again.
    assert all(c.attempts >= 2 for c in chunks.filter(index__in=stranded))
    assert {i: f.stat().st_mtime_ns for i, f in files.items()} == mtimes
    workers = set(chunks.values_list("worker", flat=True))
    assert len(workers) == 2, workers
    result = embeddings.load(embeddings.cache_path(cache, sha, keys))
    np.testing.assert_allclose(result.vectors, embed_directly(checkpoint, method), rtol=1e-4, atol=1e-4)
    stimulus = exp.stimuli.get()
    assert stimulus.sound_id in set(result.ids.tolist()) and build_progress(exp)["Model"]["failed"] == 0
