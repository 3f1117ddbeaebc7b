"""Sound-library embeddings, computed once per (checkpoint, library contents) and kept on disk.

The cache file is named by the checkpoint's sha256 and a hash of the library's (sound id, file
sha256) pairs, so any later experiment with the same model and library reuses it, and adding,
removing or replacing a sound makes a new one. Files are written to a temporary name and
renamed: two workers embedding the same library at once both end with a complete file.

A large library is embedded in chunks (one gpu task each, workers.tasks): every chunk is cached
the same way under `chunks/`, named by the model and the chunk's own (sound id, sha256) pairs, so
a chunk finished before a worker was killed is never embedded again, and `assemble` joins the
chunk files into the library's file holding only the final [N, D] array in memory.
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
    path: Path | None  # None where only the cache key is needed (no local copy made)
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


def chunk_path(cache_dir: Path, model_sha256: str, items: list[SoundItem]) -> Path:
    return Path(cache_dir) / "chunks" / f"{model_sha256[:16]}-{library_hash(items)[:16]}.npz"


def load(path: Path) -> LibraryEmbeddings:
    with np.load(path) as data:
        skipped = dict(zip(data["skipped_ids"].tolist(), data["skipped_why"].tolist(), strict=True))
        return LibraryEmbeddings(data["ids"], data["vectors"], skipped, path, reused=True)


def embed_chunk(model, items: list[SoundItem], cache_dir: Path) -> Path:
    """Embeds one chunk of a library into its own cache file (kept if already there); a chunk
    of only bad sounds is stored too, with no vectors, so that it is not tried again."""
    path = chunk_path(cache_dir, model.sha256, items)
    if not path.exists():
        try:
            result = embed_library(model, items)
        except NoSoundEmbedded as exc:
            result = LibraryEmbeddings(np.zeros(0, np.int64), np.zeros((0, 0), np.float32), exc.skipped)
        save(result, path)
    return path


def assemble(chunk_files: list[Path], path: Path) -> LibraryEmbeddings:
    """Joins chunk files (in library order) into the library's cache file. Reads each chunk
    twice (sizes, then rows) so that only the final array is ever held whole."""
    sizes, dim = [], 0
    for chunk in chunk_files:
        with np.load(chunk) as data:
            sizes.append(len(data["ids"]))
            dim = dim or (data["vectors"].shape[1] if sizes[-1] else 0)
    ids, vectors = np.empty(sum(sizes), np.int64), np.empty((sum(sizes), dim), np.float32)
    skipped, row = {}, 0
    for chunk, n in zip(chunk_files, sizes, strict=True):
        part = load(chunk)
        if n:
            ids[row : row + n], vectors[row : row + n] = part.ids, part.vectors
        skipped.update(part.skipped)
        row += n
    if not row:
        first = next(iter(skipped.values()), "no sounds")
        raise NoSoundEmbedded(f"none of the {len(skipped)} sounds could be embedded; the first: {first}",
                              skipped)
    result = LibraryEmbeddings(ids, vectors, skipped, path)
    save(result, path)
    return result


class NoSoundEmbedded(ValueError):
    def __init__(self, message: str, skipped: dict[int, str]):
        super().__init__(message)
        self.skipped = skipped


def load_or_embed(
    model, items: list[SoundItem], cache_dir: Path, progress: bool = False
) -> LibraryEmbeddings:
    if not items:
        raise ValueError("the sound library is empty")
    path = cache_path(cache_dir, model.sha256, items)
    if path.exists():
        return load(path)
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
                    if item.path is None:
                        raise ValueError("it has no local file to embed")
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
        raise NoSoundEmbedded(f"none of the {len(items)} sounds could be embedded; the first: {first}",
                              skipped)
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
