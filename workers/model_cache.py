"""One RetrievalModel per checkpoint per worker process, loaded on first use.

Nothing is loaded at import or in `worker_process_init`: the first task that needs a checkpoint
loads it in the pool child that runs it, so the prefork parent never touches CUDA. A cache filled
in another process (a fork after loading) is dropped, since CUDA state does not survive a fork.
"""

import os
from pathlib import Path

_cache: dict[tuple[str, str], object] = {}
_owner_pid = os.getpid()


class CheckpointMismatch(ValueError):
    pass


def get_model(path: str | Path, sha256: str = "", device: str = "auto"):
    """The model of the checkpoint at `path`; `sha256` (when registered) must match the file."""
    global _owner_pid
    from retrieval.inference import RetrievalModel

    if os.getpid() != _owner_pid:
        _cache.clear()
        _owner_pid = os.getpid()
    path = Path(path).resolve()
    stat = path.stat() if path.exists() else None
    # Without a registered hash, size and mtime stand in for it, so a rewritten file is reloaded.
    key = (str(path), sha256 or (f"{stat.st_size}:{stat.st_mtime_ns}" if stat else ""))
    if key not in _cache:
        model = RetrievalModel.from_checkpoint(path, device=device)
        if sha256 and model.sha256 != sha256:
            raise CheckpointMismatch(
                f"{path}: its sha256 {model.sha256[:12]}... differs from the registered "
                f"{sha256[:12]}...: the file changed after the model was registered"
            )
        _cache[key] = model
    return _cache[key]


def loaded() -> list[tuple[str, str]]:
    """Keys of the checkpoints this process holds (for tests and logs)."""
    return list(_cache)
