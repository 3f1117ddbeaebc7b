"""manage.py import_media: folders and dataset splits, every file probed, idempotent by sha256."""

import shutil
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from evalsite.experiments import importer
from evalsite.experiments.models import Sound, SoundLibrary, Video

pytestmark = pytest.mark.django_db


def folder(tmp_path, media_dir, name, *files):
    target = tmp_path / name
    target.mkdir()
    for f in files:
        shutil.copy(media_dir / f, target / f)
    return target


def run(*args):
    from io import StringIO

    out, err = StringIO(), StringIO()
    try:
        call_command("import_media", *args, stdout=out, stderr=err)
        error = None
    except CommandError as exc:
        error = str(exc)
    return out.getvalue(), err.getvalue(), error


def test_it_imports_good_files_and_reports_each_bad_one(tmp_path, media_dir, media_root):
    videos = folder(tmp_path, media_dir, "v", "alpha.mp4", "silent.mp4", "garbage.mp4", "empty.mp4")
    sounds = folder(tmp_path, media_dir, "s", "bang.wav", "garbage.wav")
    out, err, error = run("--library", "lib", "--videos", str(videos), "--sounds", str(sounds))
    assert error == "3 files failed; the others were imported"
    assert f"ERROR video {videos / 'garbage.mp4'}: not a readable media file" in err
    assert f"ERROR video {videos / 'empty.mp4'}: not a readable media file" in err
    assert f"ERROR sound {sounds / 'garbage.wav'}: not a readable media file" in err
    assert "videos: 2 imported, 0 already present, 2 failed" in out
    assert "sounds: 1 imported, 0 already present, 1 failed" in out
    alpha = Video.objects.get(name="alpha.mp4")
    assert alpha.has_audio and (alpha.width, alpha.height) == (64, 48) and alpha.fps == pytest.approx(5)
    assert alpha.duration == pytest.approx(7.0, abs=0.2)
    assert not Video.objects.get(name="silent.mp4").has_audio
    bang = Sound.objects.get(name="bang")
    assert (
        bang.library.name == "lib"
        and bang.sample_rate == 16000
        and bang.duration == pytest.approx(0.6, abs=0.05)
    )
    # Stored under a blind name, byte for byte the source.
    stored = Path(alpha.file.path)
    assert stored.parent == media_root / "videos" and "alpha" not in stored.name
    assert stored.read_bytes() == (media_dir / "alpha.mp4").read_bytes()
    # Nothing at all is stored for the bad files.
    assert Video.objects.count() == 2 and Sound.objects.count() == 1
    assert len(list((media_root / "videos").iterdir())) == 2


def test_it_skips_files_already_imported(tmp_path, media_dir):
    videos = folder(tmp_path, media_dir, "v", "alpha.mp4")
    sounds = folder(tmp_path, media_dir, "s", "bang.wav", "whoosh.wav")
    run("--library", "lib", "--videos", str(videos), "--sounds", str(sounds))
    shutil.copy(media_dir / "beta.mp4", videos / "beta.mp4")
    out, err, error = run("--library", "lib", "--videos", str(videos), "--sounds", str(sounds))
    assert error is None and err == ""
    assert "videos: 1 imported, 1 already present, 0 failed" in out
    assert "sounds: 0 imported, 2 already present, 0 failed" in out
    assert f"skip  video {videos / 'alpha.mp4'}: already imported as 'alpha.mp4'" in out
    assert Video.objects.count() == 2 and Sound.objects.count() == 2
    # The same sound may belong to another library.
    run("--library", "other", "--sounds", str(sounds))
    assert SoundLibrary.objects.get(name="other").sounds.count() == 2


def test_it_refuses_a_sound_file_as_a_video_and_a_silent_clip_as_a_sound(media_dir):
    with pytest.raises(importer.MediaError, match="bang.wav: has no video stream"):
        importer.check_video(importer.probe(str(media_dir / "bang.wav"), "bang.wav"))
    outcome = importer.import_sound(media_dir / "silent.mp4", SoundLibrary.objects.create(name="x"))
    assert (
        outcome.status == "failed" and outcome.message == f"{media_dir / 'silent.mp4'}: has no audio stream"
    )


def test_it_names_a_missing_folder_and_needs_something_to_import(tmp_path):
    assert run("--library", "lib")[2] == "nothing to import: give --videos, --sounds and/or --dataset"
    assert (
        run("--library", "lib", "--videos", str(tmp_path / "nope"))[2] == f"{tmp_path / 'nope'}: not a folder"
    )
    assert not Video.objects.exists()


def write_dataset(root, media_dir, rows):
    (root / "clips").mkdir(parents=True)
    lines = ["clip_id,split,video,audio,has_se,source,se_onset,se_class"]
    for clip_id, split, video, audio, onset, se_class in rows:
        shutil.copy(media_dir / video, root / "clips" / f"{clip_id}.mp4")
        shutil.copy(media_dir / audio, root / "clips" / f"{clip_id}.wav")
        has_se = "1" if se_class else "0"
        lines.append(
            f"{clip_id},{split},clips/{clip_id}.mp4,clips/{clip_id}.wav,{has_se},day1,{onset},{se_class}"
        )
    (root / "manifest.csv").write_text("\n".join(lines) + "\n")
    return root


def test_it_imports_a_dataset_split_with_onsets_and_classes(tmp_path, media_dir):
    root = write_dataset(
        tmp_path / "ds",
        media_dir,
        [
            ("c1", "test", "alpha.mp4", "bang.wav", "0.8", "impact"),
            ("c2", "test", "beta.mp4", "whoosh.wav", "", ""),
            ("c3", "train", "silent.mp4", "bang.wav", "", ""),
        ],
    )
    out, err, error = run("--library", "tvse", "--dataset", str(root), "--split", "test")
    assert error is None, err
    assert sorted(Video.objects.values_list("name", "effect_onset")) == [("c1", 0.8), ("c2", None)]
    assert sorted(Sound.objects.values_list("name", "sound_class", "onset")) == [
        ("c1", "impact", 0.8),
        ("c2", "", None),
    ]
    out, _, _ = run("--library", "tvse", "--dataset", str(root), "--split", "valid")
    assert (
        "no rows in split 'valid'" in run("--library", "tvse", "--dataset", str(root), "--split", "valid")[2]
    )


def test_it_reports_a_broken_manifest_and_stores_nothing(tmp_path):
    root = tmp_path / "ds"
    root.mkdir()
    (root / "manifest.csv").write_text("clip_id,split\nc1,test\n")
    error = run("--library", "tvse", "--dataset", str(root))[2]
    assert "manifest.csv" in error
    assert not Video.objects.exists() and not Sound.objects.exists()


def test_it_completes_the_onset_of_a_clip_imported_earlier_from_a_folder(tmp_path, media_dir):
    run("--library", "lib", "--videos", str(folder(tmp_path, media_dir, "v", "alpha.mp4")))
    root = write_dataset(
        tmp_path / "ds", media_dir, [("c1", "test", "alpha.mp4", "bang.wav", "1.5", "impact")]
    )
    out = run("--library", "tvse", "--dataset", str(root))[0]
    assert "already imported as 'alpha.mp4'; effect onset set to 1.5 s" in out
    assert Video.objects.get().effect_onset == 1.5


def test_it_lets_the_database_refuse_the_same_content_twice(media_dir):
    from django.db import IntegrityError, transaction

    imported = importer.import_video(media_dir / "alpha.mp4").obj
    with pytest.raises(IntegrityError), transaction.atomic():
        Video.objects.create(name="copy", file="videos/x.mp4", sha256=imported.sha256)
    library = SoundLibrary.objects.create(name="lib")
    sound = importer.import_sound(media_dir / "bang.wav", library).obj
    with pytest.raises(IntegrityError), transaction.atomic():
        Sound.objects.create(library=library, name="copy", file="sounds/x.wav", sha256=sound.sha256)
    # Rows without a checksum (made by hand) do not collide.
    Video.objects.create(name="a", file="videos/a.mp4")
    Video.objects.create(name="b", file="videos/b.mp4")
