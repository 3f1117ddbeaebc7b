"""The admin's upload of an imported method: a CSV of choices, or a zip of soundtracks or clips.

The upload is unpacked into a temporary folder and handed to `method_import.import_method`, the
same checks and transaction as `manage.py import_method`. A zip is refused before anything is
unpacked when a member's path climbs out of the folder (`../`, an absolute path), is a link, or
unpacks far too large (IMPORTED_MAX_FILE_MB a file).
"""

import shutil
import stat
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

from django import forms
from django.conf import settings

from .imported import ImportedOutput
from .method_import import ImportRefused, import_method
from .models import Experiment, Method

Form = ImportedOutput.Form


class MethodUploadForm(forms.Form):
    label = forms.CharField(max_length=100, help_text="The method's name in the build table and the results.")
    form = forms.ChoiceField(
        choices=Form.choices,
        widget=forms.RadioSelect,
        initial=Form.CHOICES,
        help_text="Choices: a CSV 'video,sound' naming a library sound (by name or id) per video, "
        "muxed as a trained model's choice (onset alignment, mux mode, loudness). Soundtracks: a zip "
        "of one audio file per video, named after it; it replaces or overlays the video's sound as "
        "the mux mode says, from the clip's start (onset alignment does not apply to a track that "
        "spans the whole clip). Clips: a zip of finished videos named after the videos; their sound "
        "is kept under the study's own picture, loudness-matched, without names or tags.",
    )
    upload = forms.FileField(help_text="A .csv for choices, a .zip for soundtracks or clips.")

    def clean(self):
        cleaned = super().clean() or {}
        upload, form = cleaned.get("upload"), cleaned.get("form")
        if upload is None or form is None:
            return cleaned
        wanted = ".csv" if form == Form.CHOICES else ".zip"
        if not upload.name.lower().endswith(wanted):
            self.add_error("upload", f"{Form(form).label.split(':')[0]} are uploaded as a {wanted} file")
        return cleaned


def import_upload(experiment: Experiment, label: str, form: str, upload) -> Method:
    """Unpacks `upload` and imports it; ImportRefused lists every problem, nothing stored."""
    with tempfile.TemporaryDirectory(prefix="import-method-") as work:
        folder = Path(work) / "upload"
        folder.mkdir()
        if form == Form.CHOICES:
            source = folder / "choices.csv"
            with source.open("wb") as out:
                for chunk in upload.chunks():
                    out.write(chunk)
        else:
            unpack(upload, folder)
            source = folder
        return import_method(experiment, label, form, source)


def unpack(upload, folder: Path) -> None:
    """The zip's files under `folder`, after every member passed the checks."""
    limit = settings.IMPORTED_MAX_FILE_MB * 1024 * 1024
    try:
        archive = zipfile.ZipFile(upload)
    except zipfile.BadZipFile:
        raise ImportRefused([f"{upload.name}: not a readable zip file"]) from None
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        problems = [problem for m in members if (problem := member_problem(m, limit))]
        if problems:
            raise ImportRefused([f"{upload.name}: {p}" for p in problems])
        for member in members:
            target = folder / PurePosixPath(member.filename)
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(member) as src, target.open("wb") as out:
                shutil.copyfileobj(src, out)


def member_problem(member: zipfile.ZipInfo, limit: int) -> str:
    path = PurePosixPath(member.filename.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0]):
        return f"{member.filename}: its path climbs out of the folder; refused"
    if stat.S_ISLNK(member.external_attr >> 16):
        return f"{member.filename}: a link; refused"
    if limit and member.file_size > limit:
        return (f"{member.filename}: {member.file_size / 2**20:.1f} MB unpacked; the limit is "
                f"{settings.IMPORTED_MAX_FILE_MB} MB (IMPORTED_MAX_FILE_MB)")  # fmt: skip
    return ""
