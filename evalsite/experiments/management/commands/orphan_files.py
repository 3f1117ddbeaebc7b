"""manage.py orphan_files: files under MEDIA_ROOT that no video, sound or stimulus uses."""

from django.conf import settings
from django.core.management.base import BaseCommand

from evalsite.experiments import cleanup


class Command(BaseCommand):
    help = (
        "List the files under MEDIA_ROOT that no video, sound or stimulus uses (left by deletions "
        "before files were deleted with their rows, or by killed processes); --delete removes them. "
        "Files changed within --older-than seconds are left alone: a build may be writing them."
    )

    def add_arguments(self, parser):
        parser.add_argument("--delete", action="store_true", help="Remove the files listed.")
        parser.add_argument(
            "--older-than", type=float, default=settings.CELERY_TASK_TIME_LIMIT, metavar="SECONDS",
            help="Only files last changed this long ago (default: the tasks' hard time limit, "
            "CELERY_TASK_TIME_LIMIT).",
        )  # fmt: skip

    def handle(self, *args, delete, older_than, **options):
        found = cleanup.orphans(older_than)
        size = 0
        for path in found:
            size += path.stat().st_size
            if delete:
                path.unlink(missing_ok=True)
            self.stdout.write(f"{'removed' if delete else 'orphan'}: {path}")
        what = "removed" if delete else "found (run again with --delete to remove them)"
        self.stdout.write(f"{len(found)} orphan files, {size / 1e6:.1f} MB, {what}")
