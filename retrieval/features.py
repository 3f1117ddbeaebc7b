"""Feature transforms shared by training, evaluation and the workers."""

import torch

# Normalisation of torchvision's Kinetics-400 video models (r3d_18).
KINETICS_MEAN = (0.43216, 0.394666, 0.37645)
KINETICS_STD = (0.22803, 0.22145, 0.216989)


def normalize_frames(frames: torch.Tensor) -> torch.Tensor:
    """uint8 frames [B, T, H, W, 3] -> float [B, 3, T, H, W] normalised as for Kinetics."""
    if frames.dtype != torch.uint8 or frames.ndim != 5 or frames.shape[-1] != 3:
        raise ValueError(f"expected uint8 frames [B, T, H, W, 3], got {frames.dtype} {tuple(frames.shape)}")
    x = frames.permute(0, 4, 1, 2, 3).float().div_(255.0)
    mean = torch.tensor(KINETICS_MEAN, device=x.device).view(1, 3, 1, 1, 1)
    std = torch.tensor(KINETICS_STD, device=x.device).view(1, 3, 1, 1, 1)
    return (x - mean) / std


def log_stft(wave: torch.Tensor, n_fft: int, hop: int, eps: float = 1e-6) -> torch.Tensor:
    """Log magnitude STFT with a Hann window: [..., samples] -> [..., n_fft // 2 + 1, frames]."""
    shape = wave.shape
    flat = wave.reshape(-1, shape[-1]).float()
    window = torch.hann_window(n_fft, device=flat.device)
    spec = torch.stft(flat, n_fft, hop_length=hop, window=window, center=True, return_complex=True)
    out = torch.log(spec.abs() + eps)
    return out.reshape(*shape[:-1], *out.shape[-2:])
