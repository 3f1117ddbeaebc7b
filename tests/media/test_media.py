"""The media module on real files written by ffmpeg: containers, streams, durations, broken files."""

import io
import subprocess

import imageio_ffmpeg
import pytest

from media import MediaError, decode_audio, decode_frames, probe

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()
PICTURE = ["-f", "lavfi", "-i", "testsrc2=size=64x48:rate=25:duration={v}"]
TONE = ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration={a}"]


def ffmpeg(path, *inputs, v=2.0, a=2.0, extra=()):
    args = [x.format(v=v, a=a) for x in inputs]
    subprocess.run([FFMPEG, "-loglevel", "error", "-y", *args, *extra, str(path)], check=True)
    return path


@pytest.mark.parametrize(
    ("suffix", "demuxer", "codecs"),
    [
        (".mp4", "mp4", ("h264", "aac")),
        (".mov", "mov", ("h264", "aac")),
        (".mkv", "matroska", ("h264", "vorbis")),
        (".webm", "webm", ("vp9", "opus")),
        (".avi", "avi", ("mpeg4", "mp3float")),
        (".ts", "mpegts", ("mpeg2video", "mp2")),
        (".flv", "flv", ("flv", "mp3float")),
    ],
)
def test_it_tells_format_streams_and_decoded_durations_of_each_container(tmp_path, suffix, demuxer, codecs):
    path = ffmpeg(tmp_path / f"clip{suffix}", *PICTURE, *TONE)
    header, decoded = probe(path), probe(path, complete=True)
    assert demuxer in header.format.split(",") and header.format_long
    assert (header.video.codec, header.audio.codec) == codecs
    assert (header.width, header.height, header.fps, header.sample_rate) == (64, 48, 25, 48_000)
    assert header.has_video and header.has_audio and not header.complete and decoded.complete
    for stream in decoded.streams:
        assert stream.duration == pytest.approx(2.0, abs=0.05), stream
        assert stream.header_duration == pytest.approx(2.0, abs=0.05), stream
    assert decoded.video.frames == 50
    assert decoded.duration == pytest.approx(2.0, abs=0.05)


@pytest.mark.parametrize(
    ("suffix", "codec"),
    [(".wav", "pcm_s16le"), (".mp3", "mp3float"), (".ogg", "vorbis"), (".flac", "flac"), (".m4a", "aac")],
)
def test_a_sound_file_has_audio_only_and_lasts_as_its_sound(tmp_path, suffix, codec):
    info = probe(ffmpeg(tmp_path / f"bang{suffix}", *TONE), complete=True)
    assert [(s.kind, s.codec) for s in info.streams] == [("audio", codec)]
    assert not info.has_video and (info.width, info.height, info.fps) == (0, 0, None)
    assert info.duration == pytest.approx(2.0, abs=0.03)
    assert info.audio.channels == 1


def test_a_file_lasts_as_its_picture_and_each_stream_keeps_its_own_duration(tmp_path):
    path = ffmpeg(tmp_path / "long-sound.mp4", *PICTURE, *TONE, v=1.0, a=2.0, extra=["-c:a", "aac"])
    for info in (probe(path), probe(path, complete=True)):
        assert info.duration == pytest.approx(1.0, abs=0.05)
        assert info.audio.duration == pytest.approx(2.0, abs=0.05)


def test_a_clip_without_sound_has_no_audio(tmp_path):
    info = probe(ffmpeg(tmp_path / "silent.mp4", *PICTURE), complete=True)
    assert info.has_video and not info.has_audio and info.sample_rate == 0


def test_only_the_complete_probe_finds_a_truncated_file(tmp_path):
    whole = ffmpeg(tmp_path / "whole.mp4", *PICTURE, *TONE, extra=["-movflags", "+faststart"])
    cut = tmp_path / "cut.mp4"
    data = whole.read_bytes()
    cut.write_bytes(data[: len(data) * 6 // 10])
    assert probe(cut).duration == pytest.approx(2.0, abs=0.05)  # the index still promises 2 s
    with pytest.raises(MediaError, match=r"cut\.mp4: does not decode past \d\.\d\d s"):
        probe(cut, complete=True)


def test_it_reads_a_file_object_and_names_it_as_told(tmp_path):
    data = ffmpeg(tmp_path / "clip.mp4", *PICTURE, *TONE).read_bytes()
    info = probe(io.BytesIO(data), "upload.mp4", complete=True)
    assert info.name == "upload.mp4" and info.video.frames == 50
    with pytest.raises(MediaError, match=r"^upload\.mp4: not a readable media file"):
        probe(io.BytesIO(b"no media here" * 50), "upload.mp4")


@pytest.mark.parametrize(("content", "message"), [(b"this is not a video" * 50, "not a readable media file"),
                                                  (b"", "not a readable media file"), (None, "no such file")])
def test_it_names_a_bad_or_missing_file(tmp_path, content, message):
    path = tmp_path / "bad.mp4"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(MediaError, match=f"^{path}: {message}"):
        probe(path, complete=True)


def test_decoders_give_the_whole_sound_and_square_frames(tmp_path):
    path = ffmpeg(tmp_path / "clip.mkv", *PICTURE, *TONE)
    assert len(decode_audio(path, 16_000)) == pytest.approx(32_000, abs=160)
    assert decode_frames(path, 10, 5.0, 32).shape == (10, 32, 32, 3)
    silent = ffmpeg(tmp_path / "silent.mkv", *PICTURE)
    with pytest.raises(MediaError, match="silent.mkv: no audio stream"):
        decode_audio(silent, 16_000)
