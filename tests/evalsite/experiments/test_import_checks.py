"""import_media's checks on real and deliberately broken files: truncated, too short, too long, too
large, without audio, a length mismatch, short videos, every container FFmpeg reads, non-media
files, names that stay unique; and the experiment form refusing the original soundtrack for videos
without one."""

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
    clip(root / "short.mp4", seconds=0.5)
    clip(root / "brief.mp4", seconds=3.0)
    clip(root / "mute.mp4", acodec=None)
    return root


SHORT_NOTE = "shorter than the models' 6.4 s window: embedded with its last frame held to the window's end"


def test_every_container_is_imported_with_a_unique_name_and_every_file_gets_a_line(tmp_path, made):
    folder = tmp_path / "v"
    folder.mkdir()
    names = ["door.mp4", *(f"door{s}" for s in CONTAINERS), "cut.mp4", "short.mp4", "brief.mp4", "mute.mp4"]
    for name in names:
        shutil.copy(made / name, folder / name)
    (folder / "README.txt").write_text("clips for the pilot\n")
    out, err, error = run("--library", "lib", "--videos", str(folder))
    names = set(Video.objects.values_list("name", flat=True))
    assert names == {"door.mp4", *(f"door{s}" for s in CONTAINERS), "mute.mp4", "brief.mp4"}, err
    assert f"ok    video {folder / 'door.ogv'} as 'door.ogv': 7.00 s, 64x48, audio" in out
    assert f"ok    video {folder / 'door.ogg'} as 'door.ogg': 7.00 s, 64x48, no audio" in out
    assert f"ok    video {folder / 'mute.mp4'} as 'mute.mp4': 7.00 s, 64x48, no audio" in out
    assert not Video.objects.get(name="door.ogg").has_audio and Video.objects.get(name="door.webm").has_audio
    assert f"skip  video {folder / 'README.txt'}: not a media file" in out
    assert f"ERROR video {folder / 'cut.mp4'}: does not decode past 1." in err
    assert (
        f"ERROR video {folder / 'short.mp4'}: 0.50 s long, shorter than the 1 s minimum (VIDEO_MIN_SECONDS)"
        in err
    )
    assert f"ok    video {folder / 'brief.mp4'} as 'brief.mp4': 3.00 s, 64x48, audio; {SHORT_NOTE}" in out
    assert "videos: 10 imported, 0 already present, 2 failed, 1 not media" in out
    assert error == "2 files failed; the others were imported"
    # Every file named once: 13 files, 13 lines.
    assert sum(line.startswith(("ok ", "skip ", "ERROR ")) for line in (out + err).splitlines()) == 13


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


def test_a_theora_ogg_with_a_still_picture_is_imported_whole(tmp_path):
    # A still picture makes libtheora write empty packets ("unchanged"), which PyAV alone took for
    # the end of the stream: the file was refused as "does not decode past 0.00 s".
    folder = tmp_path / "v"
    folder.mkdir()
    ffmpeg("-f", "lavfi", "-i", "color=c=blue:size=64x48:rate=10:duration=7", "-f", "lavfi", "-i",
           "sine=frequency=440:sample_rate=48000:duration=7", "-c:v", "libtheora", "-c:a", "libvorbis",
           str(folder / "still.ogg"))  # fmt: skip
    out, err, error = run("--library", "lib", "--videos", str(folder))
    assert error is None, err
    assert f"ok    video {folder / 'still.ogg'} as 'still.ogg': 7.00 s, 64x48, audio" in out
    assert Video.objects.get().duration == pytest.approx(7.0, abs=0.05)


@pytest.mark.parametrize("audio_seconds, line", [
    (3.0, "3.00 s, 64x48, audio; length mismatch: the sound is 4.00 s shorter than the picture, trimmed to "
          "3.00 s; " + SHORT_NOTE),
    (9.0, "7.00 s, 64x48, audio; length mismatch: the sound is 2.00 s longer than the picture, cut at its "
          "end"),
])  # fmt: skip
def test_a_length_mismatch_is_named_as_such_and_trimmed_to_the_shorter_stream(tmp_path, audio_seconds, line):
    folder = tmp_path / "v"
    folder.mkdir()
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=7", "-f", "lavfi", "-i",
           f"sine=frequency=440:sample_rate=48000:duration={audio_seconds}", "-c:v", "libx264", "-c:a",
           "libvorbis", "-pix_fmt", "yuv420p", str(folder / "apart.mkv"))  # fmt: skip
    out, err, error = run("--library", "lib", "--videos", str(folder))
    assert error is None and "truncated" not in err, err
    assert f"ok    video {folder / 'apart.mkv'} as 'apart.mkv': {line}" in out
    assert Video.objects.get().duration == pytest.approx(min(7.0, audio_seconds), abs=0.05)


def test_a_length_mismatch_that_leaves_less_than_the_minimum_is_refused(tmp_path, settings):
    settings.VIDEO_MIN_SECONDS = 4.0
    folder = tmp_path / "v"
    folder.mkdir()
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=7", "-f", "lavfi", "-i",
           "sine=frequency=440:sample_rate=48000:duration=3", "-c:v", "libx264", "-c:a", "libvorbis",
           "-pix_fmt", "yuv420p", str(folder / "apart.mkv"))  # fmt: skip
    _, err, _ = run("--library", "lib", "--videos", str(folder))
    assert "apart.mkv: 3.00 s long once trimmed to its shorter stream, shorter than the 4 s minimum" in err
    assert not Video.objects.exists()
