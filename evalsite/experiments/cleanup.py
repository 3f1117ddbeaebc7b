"""Media files that no row uses any more: deleted with their last row once its deletion is
committed, and listed (or removed) under MEDIA_ROOT by `manage.py orphan_files`."""

import time
from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from .models import ImportedOutput, Sound, Stimulus, Video

FILE_MODELS = (Video, Sound, Stimulus, ImportedOutput)  # every model that keeps a file in the media root


def in_use(names: set[str]) -> set[str]:
    """Those of `names` that a row of any model still refers to."""
    used: set[str] = set()
    for model in FILE_MODELS:
        used.update(model.objects.filter(file__in=names).values_list("file", flat=True))
    return used


def delete_unused(names: set[str]) -> list[str]:
    """Deletes the files of `names` that no row uses (rows may share a file); returns them."""
    names = {name for name in names if name}
    gone = sorted(names - in_use(names))
    for name in gone:
        default_storage.delete(name)
    return gone


@receiver(post_delete, sender=Video)
@receiver(post_delete, sender=Sound)
@receiver(post_delete, sender=Stimulus)
@receiver(post_delete, sender=ImportedOutput)
def forget_file(sender, instance, using, **kwargs):
    """A deleted row's file goes once the deletion is committed (a rollback keeps both), and only
    when no other row uses it. Deleting an experiment or a method deletes its stimuli, and so
    their files."""
    name = instance.file.name
    if name:
        transaction.on_commit(lambda: delete_unused({name}), using=using)


def orphans(older_than: float | None = None) -> list[Path]:
    """Files under MEDIA_ROOT that no row uses, last changed more than `older_than` seconds ago
    (default: the tasks' hard time limit, so that no clip still being written, before its row
    records it, and no temporary file of a live task is listed)."""
    root = Path(settings.MEDIA_ROOT)
    older_than = settings.CELERY_TASK_TIME_LIMIT if older_than is None else older_than
    cutoff = time.time() - older_than
    found = {
        path.relative_to(root).as_posix(): path
        for path in root.rglob("*")
        if path.is_file() and path.stat().st_mtime <= cutoff
    }
    used = set()
    names = list(found)
    for start in range(0, len(names), 1000):
        used |= in_use(set(names[start : start + 1000]))
    return sorted(path for name, path in found.items() if name not in used)
