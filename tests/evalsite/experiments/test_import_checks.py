"""import_media's checks on real and deliberately broken files: truncated, too short, too long, too
large, without audio, every container FFmpeg reads, non-media files, names that stay unique; and
the experiment form refusing the original soundtrack for videos without one."""

import shutil

import pytest

from evalsite.experiments.models import Video
from tests.evalsite.experiments.conftest import ffmpeg
from tests.evalsite.experiments.test_admin_experiment import all_errors, experiment_data
from tests.evalsite.experiments.test_import_media import run

pytestmark = pytest.mark.django_db

CONTAINERS = {  # suffix: (video codec, audio codec or None)
    ".ogv": ("libtheora", "libvorbis"), ".ogg": ("libtheora", None), ".webm": ("libvpx", "libopus"),
    ".mov": ("libx264", "aac"), ".mkv": ("mpeg4", "mp3"), ".avi": ("mpeg4", "mp3"),
    ".mpg": ("mpeg2video", "mp2"),
}  # fmt: skip


def clip(path, seconds=7.0, size="64x48", vcodec="libx264", acodec="aac", faststart=False):
    audio = (
        ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}"] if acodec else []
    )
    codecs = ["-c:v", vcodec] + (["-c:a", acodec] if acodec else [])
    extra = ["-movflags", "+faststart"] if faststart else []
    ffmpeg("-f", "lavfi", "-i", f"testsrc=size={size}:rate=10:duration={seconds}", *audio, *codecs,
           "-pix_fmt", "yuv420p", *extra, str(path))  # fmt: skip
    return path


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    root = tmp_path_factory.mktemp("checks")
    good = clip(root / "door.mp4", faststart=True)
    for suffix, (vcodec, acodec) in CONTAINERS.items():
        clip(root / f"door{suffix}", vcodec=vcodec, acodec=acodec)
    # A cut-off download: the header (moved to the front) still says 7 s.
    data = good.read_bytes()
    (root / "cut.mp4").write_bytes(data[: len(data) // 4])
    clip(root / "short.mp4", seconds=3.0)
    clip(root / "mute.mp4", acodec=None)
    return root


def test_every_container_is_imported_with_a_unique_name_and_every_file_gets_a_line(tmp_path, made):
    folder = tmp_path / "v"
    folder.mkdir()
    for name in ["door.mp4", *(f"door{s}" for s in CONTAINERS), "cut.mp4", "short.mp4", "mute.mp4"]:
        shutil.copy(made / name, folder / name)
    (folder / "README.txt").write_text("clips for the pilot\n")
    out, err, error = run("--library", "lib", "--videos", str(folder))
    names = set(Video.objects.values_list("name", flat=True))
    assert names == {"door.mp4", *(f"door{s}" for s in CONTAINERS), "mute.mp4"}, err
    assert f"ok    video {folder / 'door.ogv'} as 'door.ogv': 7.00 s, 64x48, audio" in out
    assert f"ok    video {folder / 'door.ogg'} as 'door.ogg': 7.00 s, 64x48, no audio" in out
    assert f"ok    video {folder / 'mute.mp4'} as 'mute.mp4': 7.00 s, 64x48, no audio" in out
    assert not Video.objects.get(name="door.ogg").has_audio and Video.objects.get(name="door.webm").has_audio
    assert f"skip  video {folder / 'README.txt'}: not a media file" in out
    assert f"ERROR video {folder / 'cut.mp4'}: does not decode past 1." in err
    assert (
        f"ERROR video {folder / 'short.mp4'}: 3.00 s long, shorter than one clip (6.4 s, VIDEO_MIN_SECONDS)"
        in err
    )
    assert "videos: 9 imported, 0 already present, 2 failed, 1 not media" in out
    assert error == "2 files failed; the others were imported"
    # Every file named once: 12 files, 12 lines.
    assert sum(line.startswith(("ok ", "skip ", "ERROR ")) for line in (out + err).splitlines()) == 12


def test_a_truncated_file_is_refused_naming_what_decodes(tmp_path, made):
    out, err, error = run(
        "--library",
        "lib",
        "--videos",
        str(shutil.copytree(made, tmp_path / "c", ignore=lambda d, n: [f for f in n if f != "cut.mp4"])),
    )
    assert not Video.objects.exists()
    # The header (at the front) says 7 s; decoding stops at the cut, a quarter of the way.
    assert "cut.mp4: does not decode past 1." in err and "Invalid data found" in err, err


def test_limits_of_length_and_size_are_refused_naming_the_limit(tmp_path, made, settings):
    folder = tmp_path / "v"
    folder.mkdir()
    shutil.copy(made / "door.mp4", folder / "door.mp4")
    settings.VIDEO_MIN_SECONDS, settings.VIDEO_MAX_SECONDS = 1.0, 5.0
    _, err, _ = run("--library", "lib", "--videos", str(folder))
    assert "door.mp4: 7.0 s long; the limit is 5 s (VIDEO_MAX_SECONDS)" in err
    settings.VIDEO_MAX_SECONDS, settings.VIDEO_MAX_LONG_SIDE, settings.VIDEO_MAX_SHORT_SIDE = 0, 48, 32
    _, err, _ = run("--library", "lib", "--videos", str(folder))
    assert "door.mp4: 64x48 is larger than the 48x32 limit (VIDEO_MAX_LONG_SIDE x VIDEO_MAX_SHORT_SIDE" in err
    assert not Video.objects.exists()


def test_the_experiment_form_refuses_the_original_soundtrack_for_videos_without_one(client, researcher, made):
    client.force_login(researcher)
    run(
        "--library",
        "lib",
        "--videos",
        str(
            shutil.copytree(
                made,
                made.parent / "two",
                ignore=lambda d, n: [f for f in n if f not in ("door.mp4", "mute.mp4")],
            )
        ),
    )
    videos = [v.pk for v in Video.objects.all()]
    data = experiment_data([("random", None, "random"), ("original", None, "original")], videos=videos)
    response = client.post("/admin/experiments/experiment/add/", data)
    assert response.status_code == 200
    assert (
        "The 'Original soundtrack' method needs the videos' own soundtrack; no audio in: mute.mp4"
        in all_errors(response)
    )
    # Without the original method (replace mode) the same videos are fine.
    response = client.post(
        "/admin/experiments/experiment/add/", experiment_data([("random", None, "random")], videos=videos)
    )
    assert response.status_code == 302, all_errors(response)
    # The picker names each video with its length, size and soundtrack.
    page = client.get("/admin/experiments/experiment/add/").content.decode()
    assert "mute.mp4 (7.0 s, 64x48, no audio)" in page and "door.mp4 (7.0 s, 64x48, audio)" in page


def test_a_clip_of_exactly_one_window_is_imported(tmp_path):
    folder = tmp_path / "v"
    folder.mkdir()
    clip(folder / "exact.mp4", seconds=6.4)
    out, err, error = run("--library", "lib", "--videos", str(folder))
    assert error is None, err
    assert Video.objects.get().name == "exact.mp4"
