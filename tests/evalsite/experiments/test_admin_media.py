"""Uploading videos and sounds in the admin: each file probed, bad ones refused with nothing stored."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from evalsite.experiments.models import Sound, SoundLibrary, Video

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client, researcher):
    client.force_login(researcher)
    return client


def upload(media_dir, name, as_name=None):
    return SimpleUploadedFile(as_name or name, (media_dir / name).read_bytes())


def errors(response) -> str:
    """Every message of the admin form, unescaped."""
    return " ".join(m for messages in response.context["adminform"].form.errors.values() for m in messages)


def stored_files(media_root):
    return [p for p in media_root.rglob("*") if p.is_file()] if media_root.exists() else []


def test_it_probes_an_uploaded_video_and_fills_in_its_facts(staff, media_dir):
    response = staff.post(
        "/admin/experiments/video/add/", {"file": upload(media_dir, "alpha.mp4"), "source": ""}
    )
    assert response.status_code == 302, errors(response)
    video = Video.objects.get()
    assert video.name == "alpha.mp4" and video.has_audio and (video.width, video.height) == (64, 48)
    assert video.duration == pytest.approx(7.0, abs=0.2) and len(video.sha256) == 64


@pytest.mark.parametrize(
    ("name", "as_name", "message"),
    [
        ("garbage.mp4", None, "garbage.mp4: not a readable media file"),
        ("empty.mp4", None, "The submitted file is empty."),
        ("bang.wav", "bang.mp4", "bang.mp4: has no video stream"),
    ],
)
def test_it_refuses_a_bad_video_upload_and_stores_nothing(
    staff, media_dir, media_root, name, as_name, message
):
    response = staff.post("/admin/experiments/video/add/", {"file": upload(media_dir, name, as_name)})
    assert response.status_code == 200
    assert message in errors(response)
    assert not Video.objects.exists() and stored_files(media_root) == []


def test_it_refuses_the_same_video_twice(staff, media_dir, media_root):
    staff.post("/admin/experiments/video/add/", {"file": upload(media_dir, "alpha.mp4")})
    response = staff.post(
        "/admin/experiments/video/add/", {"file": upload(media_dir, "alpha.mp4", "copy.mp4")}
    )
    assert "copy.mp4: the same file is already stored as 'alpha.mp4'" in errors(response)
    assert Video.objects.count() == 1 and len(stored_files(media_root)) == 1


def test_it_uploads_a_sound_and_refuses_a_silent_clip_or_a_taken_name(staff, media_dir, media_root):
    library = SoundLibrary.objects.create(name="lib")
    ok = staff.post(
        "/admin/experiments/sound/add/", {"library": library.pk, "file": upload(media_dir, "bang.wav")}
    )
    assert ok.status_code == 302
    assert Sound.objects.get().sample_rate == 16000
    silent = staff.post(
        "/admin/experiments/sound/add/", {"library": library.pk, "file": upload(media_dir, "silent.mp4")}
    )
    assert "silent.mp4: has no audio stream" in errors(silent)
    taken = staff.post(
        "/admin/experiments/sound/add/",
        {"library": library.pk, "name": "bang", "file": upload(media_dir, "whoosh.wav")},
    )
    assert "library 'lib' already has a sound named 'bang'" in errors(taken)
    assert Sound.objects.count() == 1 and len(stored_files(media_root)) == 1


def test_it_keeps_the_stored_file_when_an_edit_changes_only_the_name(staff, media_dir):
    staff.post("/admin/experiments/video/add/", {"file": upload(media_dir, "alpha.mp4")})
    video = Video.objects.get()
    response = staff.post(f"/admin/experiments/video/{video.pk}/change/", {"name": "renamed", "source": "x"})
    assert response.status_code == 302
    video.refresh_from_db()
    assert video.name == "renamed" and video.file.name and video.has_audio
