import pytest
import torch
from torchvision.models.video import r3d_18

from retrieval.config import ModelConfig
from retrieval.nets import CrossModalNet, VideoEncoder, VideoWeightsError
from retrieval.presets import get_preset

SMALL = ModelConfig(trunk_layers=1, trainable_layers=1)


def test_it_loads_torchvision_r3d18_weights_from_a_file(tmp_path):
    source = r3d_18(weights=None)
    path = tmp_path / "r3d_18-b3b3357e.pth"
    torch.save(source.state_dict(), path)
    encoder = VideoEncoder(SMALL, weights=path, seed=123)
    torch.testing.assert_close(encoder.frozen[0][0].weight, source.stem[0].weight)
    torch.testing.assert_close(encoder.trainable[0][0].conv1[0].weight, source.layer1[0].conv1[0].weight)


def test_it_names_the_file_when_the_weights_do_not_fit(tmp_path):
    state = r3d_18(weights=None).state_dict()
    state["stem.0.weight"] = torch.zeros(64, 3, 3, 3, 3)
    del state["layer4.1.conv2.1.bias"]
    path = tmp_path / "other.pth"
    torch.save(state, path)
    with pytest.raises(VideoWeightsError, match=r"other.pth: not torchvision r3d_18 weights: missing keys.*"
                                                r"layer4.1.conv2.1.bias.*stem.0.weight has shape"):
        VideoEncoder(SMALL, weights=path)
    with pytest.raises(VideoWeightsError, match="absent.pth: video weights file not found"):
        VideoEncoder(SMALL, weights=tmp_path / "absent.pth")


def test_it_trains_only_the_upper_trunk_layers():
    encoder = VideoEncoder(ModelConfig(trunk_layers=2, trainable_layers=1))
    assert not any(p.requires_grad for p in encoder.frozen.parameters())
    assert all(p.requires_grad for p in encoder.trainable.parameters())
    encoder.train()
    assert not encoder.frozen.training and encoder.trainable.training


def test_it_embeds_both_modalities_and_detects_sound_effects():
    preset = get_preset("demo")
    net = CrossModalNet(ModelConfig(trunk_layers=1, trainable_layers=0), preset).eval()
    features = net.video.features(torch.randn(2, 3, 32, 64, 64))
    out = net(features, torch.randn(2, preset.freq_bins, preset.stft_frames))
    assert out["video"].shape == out["audio"].shape == (2, 64)
    assert ((out["p_video"] > 0) & (out["p_video"] < 1)).all() and out["p_audio"].shape == (2,)
