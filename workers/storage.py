"""Stored files as local paths: Django's storage on this machine's disk or a remote one (S3 and
the like), a temporary copy or a mirror where it has no paths, and the sweep of temporary files
that killed workers left behind."""

import contextlib
import hashlib
import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path

from django.conf import settings
from django.core.files.storage import FileSystemStorage, default_storage


def is_local(storage) -> bool:
    # Only a FileSystemStorage's path() is a file this process can open; others (S3, memory)
    # either have no path() or a path that names nothing on this disk.
    return isinstance(storage, FileSystemStorage)


@contextlib.contextmanager
def local_file(field_file):
    """A local path for a stored file: the file itself on a local disk, else a temporary copy."""
    if not field_file:
        raise ValueError("no file")
    if is_local(field_file.storage):
        yield Path(field_file.path)
        return
    suffix = Path(field_file.name).suffix
    with tempfile.NamedTemporaryFile(suffix=suffix) as tmp:
        with field_file.open("rb") as src:
            shutil.copyfileobj(src, tmp)
        tmp.flush()
        yield Path(tmp.name)


def local_sound(storage, name: str, sha256: str) -> Path:
    """The sound's file on this machine: itself on a local or shared disk; from a remote storage
    (no paths), a copy kept under EMBEDDINGS_DIR/sounds, named by content (or name) hash."""
    if is_local(storage):
        return Path(storage.path(name))
    key = sha256 or hashlib.sha256(name.encode()).hexdigest()
    target = settings.EMBEDDINGS_DIR / "sounds" / f"{key}{Path(name).suffix}"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".tmp-{uuid.uuid4().hex}")
        try:
            with storage.open(name, "rb") as src, open(tmp, "wb") as dst:
                shutil.copyfileobj(src, dst)
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
    return target


def sweep_temp_files() -> int:
    """Deletes temporary files that killed workers left in the local stimuli folder; only those
    older than the hard time limit, which no live task can still be writing."""
    if not is_local(default_storage):
        return 0
    folder = Path(default_storage.path("stimuli"))
    cutoff = time.time() - settings.CELERY_TASK_TIME_LIMIT
    removed = 0
    for path in folder.glob(".tmp-*") if folder.is_dir() else []:
        with contextlib.suppress(FileNotFoundError):
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
    return removed
