import numpy as np
import pytest
import torch

from retrieval.checkpoint import FORMAT_VERSION, CheckpointError, load_checkpoint, save_checkpoint
from retrieval.inference import RetrievalModel, init_checkpoint


@pytest.fixture(scope="module")
def untrained(tmp_path_factory):
    torch.set_num_threads(1)
    return init_checkpoint(tmp_path_factory.mktemp("ckpt") / "init.pt", variant="proposed", preset="demo")


def test_it_rebuilds_a_model_from_the_checkpoint_alone(untrained):
    model = RetrievalModel.from_checkpoint(untrained, device="cpu")
    assert model.variant == "proposed" and model.preset.name == "demo"
    assert len(model.sha256) == 64
    frames = np.random.default_rng(0).integers(0, 256, (2, 32, 64, 64, 3), dtype=np.uint8)
    waves = np.random.default_rng(1).standard_normal((3, model.preset.samples)).astype(np.float32)
    video, audio = model.embed_videos(frames), model.embed_sounds(waves)
    assert video.shape == (2, 64) and audio.shape == (3, 64) and video.dtype == np.float32
    again = RetrievalModel.from_checkpoint(untrained, device="cpu")
    np.testing.assert_allclose(again.embed_sounds(waves), audio, rtol=1e-5, atol=1e-5)
    # the cached-feature path and the full forward agree
    np.testing.assert_allclose(model.embed_video_features(model.video_features(frames)), video, atol=1e-4)


def test_it_rejects_inputs_of_the_wrong_shape(untrained):
    model = RetrievalModel.from_checkpoint(untrained, device="cpu")
    with pytest.raises(ValueError, match=r"waveforms \[B, 102400\]"):
        model.embed_sounds(np.zeros((1, 48_000), np.float32))
    with pytest.raises(ValueError, match="uint8 frames"):
        model.embed_videos(np.zeros((1, 32, 112, 112, 3), np.uint8))


def test_it_names_the_file_of_a_missing_or_foreign_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="nope.pt: checkpoint file not found"):
        load_checkpoint(tmp_path / "nope.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="junk.pt: not a readable checkpoint"):
        load_checkpoint(junk)
    other = tmp_path / "dict.pt"
    torch.save({"weights": torch.zeros(2)}, other)
    with pytest.raises(CheckpointError, match="dict.pt: not a retrieval checkpoint"):
        load_checkpoint(other)


def test_it_refuses_another_format_version(tmp_path):
    path = tmp_path / "old.pt"
    save_checkpoint(path, {"epoch": 3})
    state = torch.load(path, weights_only=True)
    state["format_version"] = FORMAT_VERSION + 1
    torch.save(state, path)
    with pytest.raises(CheckpointError, match=f"old.pt: checkpoint format version {FORMAT_VERSION + 1}"):
        RetrievalModel.from_checkpoint(path)


def test_it_keeps_the_previous_checkpoint_when_a_save_fails(tmp_path):
    path = tmp_path / "model.pt"
    save_checkpoint(path, {"epoch": 1})
    with pytest.raises(Exception):  # noqa: B017 - any pickling error will do
        save_checkpoint(path, {"epoch": 2, "bad": lambda: None})
    assert load_checkpoint(path)["epoch"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]
