"""Encoders and awareness heads of the paper (Fig. 2), as plain PyTorch modules.

Video f: r3d_18 trunk -> linear 256 (+ReLU) per position -> spatial and temporal average pooling ->
projection to D. Audio g: log-STFT -> CNN blocks -> linear 512 (+ReLU) per time step -> temporal
max pooling (a short effect is not diluted by 6.4 s of the rest) -> projection to D. Both end in
`embedding_norm` (BatchNorm without affine by default, see ModelConfig.embed_norm). Awareness:
64 (the embedding) -> 64 -> 16 -> 1, sigmoid (docs/retrieval.md argues this reading).
"""

import hashlib
from pathlib import Path

import torch
from torch import nn
from torchvision.models.video import r3d_18

from .config import ModelConfig
from .presets import Preset

TRUNK_CHANNELS = (64, 64, 128, 256, 512)  # output channels of stem, layer1..layer4


class VideoWeightsError(ValueError):
    """A --video-weights file that is missing or does not fit torchvision's r3d_18."""


def load_video_weights(net: nn.Module, path: str | Path) -> None:
    """Load torchvision's r3d_18 state dict (`r3d_18-b3b3357e.pth` format) into `net`."""
    path = Path(path)
    if not path.is_file():
        raise VideoWeightsError(f"{path}: video weights file not found")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise VideoWeightsError(f"{path}: not a PyTorch state dict ({exc})") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise VideoWeightsError(f"{path}: expected a state dict of tensors (torchvision r3d_18 format)")
    expected = net.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = sorted(k for k in set(state) & set(expected) if state[k].shape != expected[k].shape)
    if missing or unexpected or wrong:
        details = []
        if missing:
            details.append(f"missing keys {missing[:3]}{' ...' if len(missing) > 3 else ''}")
        if unexpected:
            details.append(f"unexpected keys {unexpected[:3]}{' ...' if len(unexpected) > 3 else ''}")
        for key in wrong[:3]:
            have, need = tuple(state[key].shape), tuple(expected[key].shape)
            details.append(f"{key} has shape {have}, r3d_18 needs {need}")
        raise VideoWeightsError(f"{path}: not torchvision r3d_18 weights: " + "; ".join(details))
    net.load_state_dict(state)


def build_trunk(config: ModelConfig, weights: str | Path | None, seed: int) -> list[nn.Module]:
    """The stem and the first `trunk_layers` residual layers of r3d_18."""
    # A fixed seed makes a randomly initialised trunk identical across variants, so that the
    # variants of one run share the cached frozen features.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = r3d_18(weights=None)
    if weights is not None:
        load_video_weights(net, weights)
    layers = [net.stem, net.layer1, net.layer2, net.layer3, net.layer4]
    return layers[: 1 + config.trunk_layers]


def embedding_norm(config: ModelConfig) -> nn.Module:
    if config.embed_norm == "batchnorm":
        return nn.BatchNorm1d(config.embed_dim, affine=False)
    if config.embed_norm == "none":
        return nn.Identity()
    raise ValueError(f"embed_norm must be 'batchnorm' or 'none', got {config.embed_norm!r}")


class VideoEncoder(nn.Module):
    def __init__(self, config: ModelConfig, weights: str | Path | None = None, seed: int = 0):
        super().__init__()
        if not 0 <= config.trainable_layers <= config.trunk_layers <= 4:
            raise ValueError("need 0 <= trainable_layers <= trunk_layers <= 4")
        layers = build_trunk(config, weights, seed)
        n_frozen = len(layers) - config.trainable_layers
        self.frozen = nn.Sequential(*layers[:n_frozen]).requires_grad_(False)
        self.trainable = nn.Sequential(*layers[n_frozen:])
        self.hidden = nn.Linear(TRUNK_CHANNELS[config.trunk_layers], config.video_hidden)
        self.proj = nn.Linear(config.video_hidden, config.embed_dim)
        self.norm = embedding_norm(config)

    def train(self, mode: bool = True):
        super().train(mode)
        self.frozen.eval()  # frozen BatchNorm keeps its running statistics
        return self

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Output of the frozen trunk for normalised frames [B, 3, T, H, W]."""
        with torch.no_grad():
            return self.frozen(x)

    def head(self, features: torch.Tensor) -> torch.Tensor:
        y = self.trainable(features.float())  # [B, C, T', H', W']
        y = torch.relu(self.hidden(y.permute(0, 2, 3, 4, 1)))
        return self.norm(self.proj(y.mean(dim=(1, 2, 3))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))

    def frozen_fingerprint(self) -> str:
        digest = hashlib.sha256()
        for name, tensor in self.frozen.state_dict().items():
            digest.update(name.encode())
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
        return digest.hexdigest()[:16]


class AudioEncoder(nn.Module):
    def __init__(self, config: ModelConfig, freq_bins: int):
        super().__init__()
        # Log magnitudes sit far from zero mean; a BatchNorm on the input rescales them.
        self.input_norm = nn.BatchNorm2d(1)
        pool = config.audio_input_pool
        self.input_pool = nn.AvgPool2d(pool) if pool > 1 else nn.Identity()
        blocks, channels, freq = [], 1, freq_bins // pool
        for _ in range(config.audio_blocks):
            blocks += [
                nn.Conv2d(channels, config.audio_channels, 3, stride=1, padding=2),
                nn.BatchNorm2d(config.audio_channels),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(2),
            ]
            channels, freq = config.audio_channels, (freq + 2) // 2
        self.blocks = nn.Sequential(*blocks)
        self.hidden = nn.Linear(channels * freq, config.audio_hidden)
        self.proj = nn.Linear(config.audio_hidden, config.embed_dim)
        self.norm = embedding_norm(config)

    def forward(self, spec: torch.Tensor) -> torch.Tensor:
        """Log-STFT [B, F, T] -> embedding [B, D]."""
        x = self.blocks(self.input_norm(self.input_pool(spec.unsqueeze(1))))  # [B, C, F', T']
        x = x.permute(0, 3, 1, 2).flatten(2)  # [B, T', C * F']
        return self.norm(self.proj(torch.relu(self.hidden(x)).amax(dim=1)))


class AwarenessHead(nn.Module):
    """Probability that the sample holds a sound effect, from its embedding."""

    def __init__(self, embed_dim: int):
        super().__init__()
        self.mlp = nn.Sequential(
            nn.Linear(embed_dim, 64), nn.ReLU(), nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 1)
        )

    def forward(self, embedding: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.mlp(embedding)).squeeze(-1)


class CrossModalNet(nn.Module):
    def __init__(self, config: ModelConfig, preset: Preset, video_weights=None, seed: int = 0):
        super().__init__()
        self.config = config
        self.video = VideoEncoder(config, video_weights, seed)
        self.audio = AudioEncoder(config, preset.freq_bins)
        self.video_aware = AwarenessHead(config.embed_dim) if config.awareness else None
        self.audio_aware = AwarenessHead(config.embed_dim) if config.awareness else None

    def forward(self, video_features=None, spectrograms=None) -> dict:
        """Embeddings (and awareness probabilities) from frozen-trunk features and/or log-STFTs.

        One forward for both modalities, so that DistributedDataParallel sees every used parameter.
        """
        out = {}
        if video_features is not None:
            out["video"] = self.video.head(video_features)
            if self.video_aware is not None:
                out["p_video"] = self.video_aware(out["video"])
        if spectrograms is not None:
            out["audio"] = self.audio(spectrograms)
            if self.audio_aware is not None:
                out["p_audio"] = self.audio_aware(out["audio"])
        return out

    def trainable_state_dict(self) -> dict:
        """Weights that training changes (everything but the frozen trunk)."""
        return {k: v for k, v in self.state_dict().items() if not k.startswith("video.frozen.")}
