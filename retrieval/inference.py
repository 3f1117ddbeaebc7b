"""Load a trained checkpoint and embed videos and sounds with it (used by evaluate and the workers)."""

import hashlib
from pathlib import Path

import numpy as np
import torch

from .checkpoint import load_checkpoint, save_checkpoint
from .config import TrainConfig, default_config
from .features import log_stft, normalize_frames
from .nets import CrossModalNet
from .presets import DEFAULT_PRESET, Preset, get_preset
from .rows import Rows


def resolve_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available")
    if device != "cpu" and not device.startswith("cuda"):
        raise ValueError(f"device must be auto, cpu or cuda, got {device!r}")
    return torch.device(device)


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def build_net(config: TrainConfig, preset: Preset, video_weights=None) -> CrossModalNet:
    torch.manual_seed(config.seed)  # reproducible initial heads and audio encoder
    trunk_seed = config.seed if config.trunk_seed is None else config.trunk_seed
    return CrossModalNet(config.model, preset, video_weights=video_weights, seed=trunk_seed)


def checkpoint_state(net, config: TrainConfig, preset: Preset, **extra) -> dict:
    return {
        "variant": config.variant,
        "preset": preset.to_dict(),
        "config": config.to_dict(),
        "model": net.state_dict(),
        "epoch": 0,
        "best": None,
        "history": [],
        **extra,
    }


def init_checkpoint(path, variant: str = "proposed", preset: str = DEFAULT_PRESET, seed: int = 0) -> Path:
    """Write a complete but untrained checkpoint (for testing the plumbing that consumes checkpoints)."""
    config = default_config(variant, preset, seed=seed)
    net = build_net(config, get_preset(preset))
    save_checkpoint(path, checkpoint_state(net, config, get_preset(preset)))
    return Path(path)


class RetrievalModel:
    """A checkpoint's encoders in eval mode; inputs and outputs are numpy arrays."""

    video_batch = 8
    sound_batch = 32

    def __init__(self, net: CrossModalNet, preset: Preset, config: TrainConfig, sha256: str, device):
        self.net = net.to(device).eval()
        self.preset = preset
        self.config = config
        self.variant = config.variant
        self.sha256 = sha256
        self.device = device

    @classmethod
    def from_checkpoint(cls, path, device: str = "auto") -> "RetrievalModel":
        state = load_checkpoint(path)
        preset = Preset(**state["preset"])
        config = TrainConfig.from_dict(state["config"])
        net = build_net(config, preset)
        net.load_state_dict(state["model"])
        return cls(net, preset, config, file_sha256(path), resolve_device(device))

    def _batched(self, fn, array: Rows, batch: int) -> np.ndarray:
        outs = []
        with torch.inference_mode():
            for start in range(0, len(array), batch):
                # a copy: memmaps are read-only, which torch warns about
                chunk = torch.as_tensor(np.array(array[start : start + batch])).to(self.device)
                outs.append(fn(chunk).float().cpu().numpy())
        if not outs:
            return np.zeros((0, self.config.model.embed_dim), np.float32)
        return np.concatenate(outs).astype(np.float32)

    def _check_frames(self, frames):
        p = self.preset
        want = (p.frames, p.size, p.size, 3)
        if frames.dtype != np.uint8 or frames.ndim != 5 or tuple(frames.shape[1:]) != want:
            raise ValueError(
                f"expected uint8 frames [B, {', '.join(map(str, want))}] for preset {p.name!r}, "
                f"got {frames.dtype} {tuple(frames.shape)}"
            )

    def _check_waves(self, waves):
        p = self.preset
        if waves.ndim != 2 or waves.shape[1] != p.samples:
            raise ValueError(
                f"expected waveforms [B, {p.samples}] ({p.clip_seconds} s at {p.sample_rate} Hz) "
                f"for preset {p.name!r}, got {tuple(waves.shape)}"
            )

    def video_features(self, frames: np.ndarray) -> np.ndarray:
        """Frozen-trunk features of uint8 frames (what training caches)."""
        self._check_frames(frames)
        return self._batched(lambda x: self.net.video.features(normalize_frames(x)), frames, self.video_batch)

    def embed_videos(self, frames: Rows) -> np.ndarray:
        self._check_frames(frames)
        return self._batched(lambda x: self.net.video(normalize_frames(x)), frames, self.video_batch)

    def embed_video_features(self, features: Rows) -> np.ndarray:
        return self._batched(self.net.video.head, features, self.sound_batch)

    def spectrograms(self, waves: np.ndarray) -> torch.Tensor:
        return log_stft(torch.as_tensor(waves), self.preset.n_fft, self.preset.hop)

    def embed_sounds(self, waves: np.ndarray) -> np.ndarray:
        waves = np.asarray(waves, dtype=np.float32)
        self._check_waves(waves)
        p = self.preset
        return self._batched(lambda w: self.net.audio(log_stft(w, p.n_fft, p.hop)), waves, self.sound_batch)

    def embed_spectrograms(self, spectrograms: Rows) -> np.ndarray:
        """Audio embeddings of [N, F, T'] spectrograms (float32, or float16 from a compact cache)."""
        return self._batched(lambda x: self.net.audio(x.float()), spectrograms, self.sound_batch)

    def detect(self, video_embeddings: np.ndarray, audio_embeddings: np.ndarray):
        """Awareness probabilities (video, audio), or None for a model trained without awareness."""
        if self.net.video_aware is None:
            return None
        video = self._batched(self.net.video_aware, video_embeddings, 1024)
        audio = self._batched(self.net.audio_aware, audio_embeddings, 1024)
        return video, audio


def sound_window(path, preset: Preset) -> np.ndarray:
    """A library sound as the audio encoder's input: preset.samples long, from the file's start,
    padded with silence (library sounds are usually shorter than a 6.4 s sample)."""
    from media import decode_audio

    wave = decode_audio(path, preset.sample_rate)
    out = np.zeros(preset.samples, np.float32)
    out[: min(len(wave), preset.samples)] = wave[: preset.samples]
    return out
