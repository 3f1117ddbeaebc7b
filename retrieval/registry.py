"""Registering a checkpoint as a TrainedModel: what `train`, `register_model` and the admin share.

The checkpoint is loaded the way inference loads it (weights into the network its config
describes), so a row exists only for a file the workers can use; its facts (variant, preset,
config, validation metrics, sha256) come from the file, never from what a person typed.
"""

from pathlib import Path

# torch is imported only when a checkpoint is read: the admin imports this module, and the web
# processes never load torch.


def checkpoint_facts(path: str | Path) -> dict:
    """The TrainedModel fields of a loadable checkpoint; CheckpointError names what is wrong."""
    from .checkpoint import CheckpointError, load_checkpoint
    from .config import TrainConfig
    from .inference import build_net, file_sha256
    from .presets import Preset

    path = Path(path).expanduser().resolve()
    state = load_checkpoint(path)
    try:
        preset = Preset(**state["preset"])
        config = TrainConfig.from_dict(state["config"])
        build_net(config, preset).load_state_dict(state["model"])
    except Exception as exc:
        raise CheckpointError(f"{path}: the weights do not load ({type(exc).__name__}: {exc})") from None
    return {
        "variant": config.variant,
        "preset": preset.name,
        "checkpoint": str(path),
        "checkpoint_sha256": file_sha256(path),
        "config": config.to_dict(),
        "metrics": {"valid": state.get("best"), "epochs": state.get("epoch", 0)},
    }


def register(path: str | Path, name: str | None = None):
    """Creates or updates the TrainedModel named `name` (default: the file stem); returns
    (row, created)."""
    from .models import TrainedModel

    facts = checkpoint_facts(path)
    return TrainedModel.objects.update_or_create(name=name or Path(path).stem, defaults=facts)
