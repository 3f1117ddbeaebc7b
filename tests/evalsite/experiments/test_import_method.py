"""manage.py import_method: each form imported, and every bad input refused with nothing stored."""

from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from evalsite.experiments.models import ImportedOutput, Method
from tests.evalsite.experiments.conftest import ffmpeg
from tests.workers.conftest import experiment, library, video_row
from tests.workers.media import chirp, make_video, make_wav

pytestmark = pytest.mark.django_db


@pytest.fixture
def study(media_root):
    root = Path(media_root)
    root.mkdir(parents=True, exist_ok=True)
    videos = [video_row(root, name)[0] for name in ("door", "glass")]
    return experiment(videos, library(root, n=2), ("random",))


def soundtracks(folder: Path, seconds=(7.0, 7.0), names=("door", "glass"), suffix=".wav") -> Path:
    folder.mkdir(exist_ok=True)
    for i, (name, length) in enumerate(zip(names, seconds, strict=True)):
        make_wav(folder / f"{name}{suffix}", chirp(length, seed=i))
    return folder


def run(study, label, **form):
    """The command's outcome: ("ok", stdout) or ("refused", stderr)."""
    out, err = _Capture(), _Capture()
    try:
        call_command("import_method", study.slug, label=label, stdout=out, stderr=err, **form)
    except CommandError as exc:
        return "refused", err.text + str(exc)
    return "ok", out.text


class _Capture:
    def __init__(self):
        self.text = ""

    def write(self, text):
        self.text += text

    def flush(self):
        pass


def stored_nothing(study, media_root) -> bool:
    imported = Path(media_root) / "imported"
    no_files = not imported.exists() or not any(imported.iterdir())
    rows = study.methods.filter(kind="imported").exists() or ImportedOutput.objects.exists()
    return not rows and no_files


def test_it_imports_choices_by_sound_name_or_id(study, tmp_path):
    s0, s1 = study.sound_library.sounds.order_by("name")
    (tmp_path / "top1.csv").write_text(f"video,sound\ndoor,{s1.name}.wav\nglass.mp4,{s0.pk}\n")
    outcome, text = run(study, "Other system", choices=tmp_path / "top1.csv")
    assert outcome == "ok", text
    method = study.methods.get(label="Other system")
    assert method.kind == Method.Kind.IMPORTED and "2 outputs" in text
    chosen = {o.video.name: (o.sound, o.form, o.file.name) for o in method.outputs.all()}
    assert chosen == {"door": (s1, "choices", ""), "glass": (s0, "choices", "")}
    assert len({o.sha256 for o in method.outputs.all()}) == 1  # the CSV's checksum
    assert study.setup_problems() == []


def test_it_imports_soundtracks_and_clips_with_their_checksums(study, tmp_path):
    import hashlib

    outcome, text = run(study, "Generator", soundtracks=soundtracks(tmp_path / "tracks", suffix=".flac"))
    assert outcome == "ok", text
    (tmp_path / "clips").mkdir()
    for name in ("door", "glass"):
        make_video(tmp_path / "clips" / f"{name}.mp4", seconds=7.0, size=(96, 64), tone_hz=300.0)
    outcome, text = run(study, "Finished clips", clips=tmp_path / "clips")
    assert outcome == "ok", text
    for output in ImportedOutput.objects.all():
        assert output.file.name.startswith("imported/") and output.video.name not in output.file.name
        folder = "tracks" if output.form == "soundtracks" else "clips"
        assert output.sha256 == hashlib.sha256((tmp_path / folder / output.source).read_bytes()).hexdigest()
        assert output.duration == pytest.approx(7.0, abs=0.1)
    assert ImportedOutput.objects.filter(form="soundtracks").count() == 2


def _csv(tmp_path, text):
    (tmp_path / "c.csv").write_text(text)
    return {"choices": tmp_path / "c.csv"}


def _tracks_with(tmp_path, extra=None, **kwargs):
    folder = soundtracks(tmp_path / "tracks", **kwargs)
    if extra:
        extra(folder)
    return {"soundtracks": folder}


def _truncated(folder: Path):
    # A FLAC header states its length (a WAV's is taken from the file size): cut, it still says 7 s.
    ffmpeg("-i", str(folder / "glass.wav"), str(folder / "glass.flac"))
    (folder / "glass.wav").unlink()
    whole = (folder / "glass.flac").read_bytes()
    (folder / "glass.flac").write_bytes(whole[: len(whole) // 2])


def _unreadable(folder: Path):
    (folder / "glass.wav").write_bytes(b"RIFF junk")


def _silent(folder: Path):
    make_wav(folder / "glass.wav", 0 * chirp(7.0))


def _notes(folder: Path):
    (folder / "notes.txt").write_text("hi")


BAD = {
    "a sound not in the library": (lambda t: _csv(t, "video,sound\ndoor,s0\nglass,nope\n"),
                                   "sound 'nope' is not in the experiment's sound library"),
    "a video with no output": (lambda t: _csv(t, "video,sound\ndoor,s0\n"),
                               "video 'glass': no usable output given"),
    "an output for no video": (lambda t: _tracks_with(t, seconds=(7, 7, 7), names=("door", "glass", "cat")),
                               "'cat' is no video of the experiment"),
    "two outputs for a video": (lambda t: _csv(t, "video,sound\ndoor,s0\ndoor,s1\nglass,s0\n"),
                                "a second output for video 'door'"),
    "an unreadable file": (lambda t: _tracks_with(t, _unreadable), "glass.wav: not a readable media file"),
    "a silent file": (lambda t: _tracks_with(t, _silent), "glass.wav: silent"),
    "a much shorter soundtrack": (lambda t: _tracks_with(t, seconds=(7.0, 2.0)),
                                  "much shorter than video 'glass'"),
    "a truncated file": (lambda t: _tracks_with(t, _truncated), "glass.flac: truncated"),
    "a file not media": (lambda t: _tracks_with(t, _notes), "notes.txt: not a media file"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BAD))
def test_it_refuses_bad_input_naming_the_reason_and_storing_nothing(case, study, tmp_path, media_root):
    make, reason = BAD[case]
    outcome, text = run(study, "Outside", **make(tmp_path))
    assert outcome == "refused" and reason in text and "nothing was imported" in text, text
    assert stored_nothing(study, media_root)


def test_it_refuses_a_name_that_matches_two_videos(study, tmp_path, media_root):
    twin = video_row(Path(media_root), "twin")[0]
    twin.name = "door.mp4"
    twin.save()
    study.videos.add(twin)
    outcome, text = run(study, "Outside", soundtracks=soundtracks(tmp_path / "t"))
    assert outcome == "refused" and "'door' matches 2 videos (door, door.mp4)" in text, text
    assert stored_nothing(study, media_root)


def test_it_refuses_a_file_far_too_large(study, tmp_path, media_root, settings):
    settings.IMPORTED_MAX_FILE_MB = 1
    outcome, text = run(study, "Outside", soundtracks=soundtracks(tmp_path / "t", seconds=(7.0, 12.0)))
    reason = "glass.wav: 1.1 MB; the limit is 1 MB (IMPORTED_MAX_FILE_MB)"
    assert outcome == "refused" and reason in text, text
    assert stored_nothing(study, media_root)


def test_it_refuses_a_label_taken_and_an_open_study(study, tmp_path, media_root):
    outcome, text = run(study, "Random", soundtracks=soundtracks(tmp_path / "t"))
    assert outcome == "refused" and "already has a method labelled 'Random'" in text
    study.move_to("open")
    outcome, text = run(study, "New", soundtracks=tmp_path / "t")
    assert outcome == "refused" and "methods are added to a draft only" in text
    assert stored_nothing(study, media_root)


def _zip_upload(tmp_path, members: dict[str, Path]):
    import zipfile

    from django.core.files.uploadedfile import SimpleUploadedFile

    with zipfile.ZipFile(tmp_path / "up.zip", "w") as archive:
        for name, source in members.items():  # a ZipInfo keeps the name as given, "/" or "../" included
            archive.writestr(zipfile.ZipInfo(name), source.read_bytes())
    return SimpleUploadedFile("up.zip", (tmp_path / "up.zip").read_bytes())


def test_an_upload_refuses_a_zip_member_far_too_large_or_climbing_out(study, tmp_path, media_root, settings):
    from evalsite.experiments.method_import import ImportRefused
    from evalsite.experiments.method_upload import import_upload

    folder = soundtracks(tmp_path / "t", seconds=(7.0, 12.0))
    settings.IMPORTED_MAX_FILE_MB = 1
    members = {
        "door.wav": folder / "door.wav",
        "glass.wav": folder / "glass.wav",
        "/etc/cat.wav": folder / "door.wav",
    }
    with pytest.raises(ImportRefused) as refused:
        import_upload(study, "Zipped", "soundtracks", _zip_upload(tmp_path, members))
    assert refused.value.problems == [
        "up.zip: glass.wav: 1.1 MB unpacked; the limit is 1 MB (IMPORTED_MAX_FILE_MB)",
        "up.zip: /etc/cat.wav: its path climbs out of the folder; refused",
    ]
    assert stored_nothing(study, media_root)
    settings.IMPORTED_MAX_FILE_MB = 200
    members.pop("/etc/cat.wav")
    members["__MACOSX/._door.wav"] = members[".DS_Store"] = folder / "door.wav"  # a Mac zip's bookkeeping
    method = import_upload(study, "Zipped", "soundtracks", _zip_upload(tmp_path, members))
    assert method.outputs.count() == 2


def test_the_methods_table_neither_makes_nor_unmakes_an_imported_method(study, tmp_path):
    from evalsite.experiments.forms import MethodForm

    run(study, "Generator", soundtracks=soundtracks(tmp_path / "t"))
    generator, random = study.methods.get(label="Generator"), study.methods.get(label="Random")
    said = "An imported method is added with 'Import a method'"
    for instance, kind in ((None, "imported"), (random, "imported"), (generator, "random")):
        form = MethodForm({"kind": kind, "label": "X", "order": 0}, instance=instance)
        assert not form.is_valid() and said in form.errors["kind"][0]
    renamed = MethodForm({"kind": "imported", "label": "Generator 2", "order": 3}, instance=generator)
    assert renamed.is_valid(), renamed.errors
