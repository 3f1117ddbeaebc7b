"""Self-describing checkpoints, written atomically.

A checkpoint is a dict: `format_version`, `kind`, `variant`, `preset` (Preset fields), `config`
(TrainConfig, model config inside), `model` (what inference loads: the weights of the best
validation epoch, or the last epoch's before any joint epoch has been validated), `epoch` (joint
epochs completed), `pretrain_epoch` (audio pre-training epochs completed), `best` (None before the
first joint epoch, then {"epoch", "n", "acc_rank", "r@5", "r@50", "r@100"} and, with awareness,
"det_video" and "det_audio": the validation metrics of that epoch), `history` (one record per
epoch, pre-training included), and from the first epoch on `resume` ({"model": the trainable
weights of the last epoch, "optimizer", "stage": "pretrain" or "joint", "generator": the loss's
random generator state}).
"""

import os
import tempfile
from pathlib import Path

import torch

FORMAT_VERSION = 1
KIND = "sfx-retrieval-checkpoint"


class CheckpointError(ValueError):
    """A checkpoint file that is missing, unreadable or of another format version."""


def save_checkpoint(path: str | Path, state: dict) -> None:
    """Write `state` to `path` through a temporary file and a rename: readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {"format_version": FORMAT_VERSION, "kind": KIND, **state}
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(state, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_checkpoint(path: str | Path, map_location="cpu") -> dict:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint file not found")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"{path}: not a readable checkpoint ({type(exc).__name__}: {exc})") from None
    if not isinstance(state, dict) or state.get("kind") != KIND:
        raise CheckpointError(f"{path}: not a retrieval checkpoint")
    version = state.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format version {version!r}, this code reads version {FORMAT_VERSION}"
        )
    return state
