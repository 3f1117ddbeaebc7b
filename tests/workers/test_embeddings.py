"""Sound-library embeddings with a real checkpoint: cached by model and library contents."""

import numpy as np
import pytest

from tests.workers.media import chirp, make_wav
from workers import embeddings
from workers.model_cache import CheckpointMismatch, get_model


@pytest.fixture
def items(tmp_path):
    out = []
    for i in range(3):
        path = make_wav(tmp_path / f"s{i}.wav", chirp(0.5 + i, seed=i))
        out.append(embeddings.SoundItem(10 + i, path, f"sha{i}"))
    return out


def test_it_embeds_once_and_reuses_the_file(checkpoint, items, tmp_path):
    model = get_model(checkpoint)
    first = embeddings.load_or_embed(model, items, tmp_path / "cache")
    assert not first.reused and first.vectors.shape == (3, 64) and first.ids.tolist() == [10, 11, 12]
    again = embeddings.load_or_embed(model, items, tmp_path / "cache")
    assert again.reused and again.path == first.path
    np.testing.assert_array_equal(again.vectors, first.vectors)
    # The same as embedding the sounds directly.
    direct = model.embed_sounds(np.stack([embeddings.sound_window(i.path, model.preset) for i in items]))
    np.testing.assert_allclose(first.vectors, direct, rtol=1e-5, atol=1e-5)


def test_a_changed_library_gets_a_new_cache_file(checkpoint, items, tmp_path):
    model = get_model(checkpoint)
    a = embeddings.cache_path(tmp_path, model.sha256, items)
    changed = [*items[:2], embeddings.SoundItem(12, items[2].path, "another-sha")]
    assert embeddings.cache_path(tmp_path, model.sha256, changed) != a
    assert embeddings.cache_path(tmp_path, model.sha256, items[:2]) != a
    assert embeddings.cache_path(tmp_path, "f" * 64, items) != a
    assert embeddings.cache_path(tmp_path, model.sha256, list(reversed(items))) == a


def test_a_bad_sound_is_left_out_with_its_reason(checkpoint, items, tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF garbage")
    result = embeddings.load_or_embed(
        get_model(checkpoint), [*items, embeddings.SoundItem(99, bad, "x")], tmp_path
    )
    assert result.ids.tolist() == [10, 11, 12]
    assert "bad.wav" in result.skipped[99]
    reloaded = embeddings.load_or_embed(
        get_model(checkpoint), [*items, embeddings.SoundItem(99, bad, "x")], tmp_path
    )
    assert reloaded.reused and "bad.wav" in reloaded.skipped[99]


def test_a_library_of_only_bad_sounds_is_an_error(checkpoint, tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"")
    with pytest.raises(ValueError, match="none of the 1 sounds could be embedded.*bad.wav"):
        embeddings.load_or_embed(get_model(checkpoint), [embeddings.SoundItem(1, bad, "x")], tmp_path)


def test_the_model_cache_loads_a_checkpoint_once(checkpoint):
    assert get_model(checkpoint) is get_model(checkpoint)


def test_the_model_cache_refuses_a_checkpoint_that_changed(checkpoint):
    with pytest.raises(CheckpointMismatch, match="changed after the model was registered"):
        get_model(checkpoint, sha256="0" * 64)
