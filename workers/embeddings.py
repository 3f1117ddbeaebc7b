"""Sound-library embeddings, computed once per (checkpoint, library contents) and kept on disk.

The cache file is named by the checkpoint's sha256 and a hash of the library's (sound id, file
sha256) pairs, so any later experiment with the same model and library reuses it, and adding,
removing or replacing a sound makes a new one. Files are written to a temporary name and
renamed: two workers embedding the same library at once both end with a complete file.
"""

import hashlib
import logging
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)
BATCH = 256  # sounds decoded and embedded at a time: bounds memory for large libraries


@dataclass(frozen=True)
class SoundItem:
    id: int
    path: Path
    sha256: str


@dataclass
class LibraryEmbeddings:
    ids: np.ndarray  # int64 [N]: Sound primary keys, in the order of `vectors`
    vectors: np.ndarray  # float32 [N, D]
    skipped: dict[int, str] = field(default_factory=dict)  # sound id -> why it could not be embedded
    path: Path | None = None
    reused: bool = False


def library_hash(items: list[SoundItem]) -> str:
    digest = hashlib.sha256()
    for item in sorted(items, key=lambda i: i.id):
        digest.update(f"{item.id}:{item.sha256}\n".encode())
    return digest.hexdigest()


def cache_path(cache_dir: Path, model_sha256: str, items: list[SoundItem]) -> Path:
    return Path(cache_dir) / f"{model_sha256[:16]}-{library_hash(items)[:16]}.npz"


def load_or_embed(
    model, items: list[SoundItem], cache_dir: Path, progress: bool = False
) -> LibraryEmbeddings:
    if not items:
        raise ValueError("the sound library is empty")
    path = cache_path(cache_dir, model.sha256, items)
    if path.exists():
        with np.load(path) as data:
            skipped = dict(zip(data["skipped_ids"].tolist(), data["skipped_why"].tolist(), strict=True))
            return LibraryEmbeddings(data["ids"], data["vectors"], skipped, path, reused=True)
    result = embed_library(model, items, progress)
    result.path = path
    save(result, path)
    return result


def embed_library(model, items: list[SoundItem], progress: bool = False) -> LibraryEmbeddings:
    from tqdm import tqdm

    ids, vectors, skipped = [], [], {}
    with tqdm(total=len(items), desc="embed sounds", unit="sound", disable=not progress) as bar:
        for start in range(0, len(items), BATCH):
            waves, batch_ids = [], []
            for item in items[start : start + BATCH]:
                try:
                    waves.append(sound_window(item.path, model.preset))
                    batch_ids.append(item.id)
                except (ValueError, OSError) as exc:  # MediaError is a ValueError
                    skipped[item.id] = str(exc)
                    log.warning("sound %s left out of the library: %s", item.id, exc)
            if waves:
                vectors.append(model.embed_sounds(np.stack(waves)))
                ids += batch_ids
            bar.update(len(items[start : start + BATCH]))
    if not ids:
        first = next(iter(skipped.values()))
        raise ValueError(f"none of the {len(items)} sounds could be embedded; the first: {first}")
    return LibraryEmbeddings(np.array(ids, np.int64), np.concatenate(vectors), skipped)


def sound_window(path: Path, preset) -> np.ndarray:
    """The sound as the audio encoder's input (retrieval.inference.sound_window)."""
    from retrieval.inference import sound_window as window

    return window(path, preset)


def save(result: LibraryEmbeddings, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{uuid.uuid4().hex}.npz")
    try:
        with open(tmp, "wb") as fh:
            np.savez(
                fh, ids=result.ids, vectors=result.vectors,
                skipped_ids=np.array(list(result.skipped), np.int64),
                skipped_why=np.array(list(result.skipped.values()), dtype=str),
            )  # fmt: skip
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
