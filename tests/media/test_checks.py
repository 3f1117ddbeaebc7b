"""media's decode check against ffmpeg's, its one usability check and its one suffix list, on real
files written by ffmpeg: a still Theora picture, a length mismatch, a truncated file."""

from contextlib import closing

import pytest

from media import (
    MediaError,
    Needs,
    RecordingReader,
    check_video,
    decode_audio,
    decode_frames,
    describe_length,
    is_sound_file,
    is_video_file,
    probe,
    trimmed,
    usable_seconds,
)
from media.ffmpeg import decoded_lengths
from tests.media.test_media import PICTURE, TONE, ffmpeg

STILL = ["-f", "lavfi", "-i", "color=c=blue:size=64x48:rate=10:duration={v}"]


def test_a_still_theora_picture_decodes_to_its_end_as_ffmpeg_decodes_it(tmp_path):
    # libtheora writes an empty packet for each unchanged picture; PyAV took the first for the end
    # of the stream and failed on the next packet (EINVAL): "does not decode past 0.00 s".
    path = ffmpeg(tmp_path / "still.ogg", *STILL, *TONE, v=3.0, a=3.0, extra=["-c:v", "libtheora"])
    info = probe(path, complete=True)
    assert info.video.duration == pytest.approx(3.0, abs=0.01) and info.video.frames == 3  # 0, 1.2, 2.4 s
    assert info.audio.duration == pytest.approx(3.0, abs=0.03)
    assert decoded_lengths(path, [0, 1])[1][0] == pytest.approx(info.audio.duration, abs=0.03)
    frames = decode_frames(path, 15, 5.0, 16)  # the whole 3 s, each one the blue picture
    assert (frames == frames[0]).all() and frames[0, ..., 2].mean() > 200
    assert len(decode_audio(path, 16_000)) == pytest.approx(48_000, abs=480)
    with closing(RecordingReader(path, 16_000)) as reader:
        times = [t for _, t in reader.frames()]
        assert times == pytest.approx([0.0, 1.2, 2.4])
        assert len(reader.take(0, 47_000)) == 47_000


def test_ffmpeg_measures_a_whole_file_and_refuses_a_cut_one(tmp_path):
    whole = ffmpeg(tmp_path / "whole.mp4", *PICTURE, *TONE, extra=["-movflags", "+faststart"])
    lengths = decoded_lengths(whole, [0, 1])
    assert lengths[0] == (pytest.approx(2.0), 50) and lengths[1][0] == pytest.approx(2.0, abs=0.03)
    with open(whole, "rb") as handle:  # an upload: a file object, copied for the program
        assert decoded_lengths(handle, [0, 1]) == lengths
    cut = tmp_path / "cut.mp4"
    data = whole.read_bytes()
    cut.write_bytes(data[: len(data) * 6 // 10])
    assert decoded_lengths(cut, [0, 1]) is None  # ffmpeg reports the damage: PyAV's error stands
    with pytest.raises(MediaError, match=r"cut\.mp4: does not decode past \d\.\d\d s"):
        probe(cut, complete=True)


def test_a_length_mismatch_is_not_truncation_and_is_trimmed_to_the_shorter_stream(tmp_path):
    path = ffmpeg(tmp_path / "apart.mkv", *PICTURE, *TONE, v=3.0, a=1.0)
    info = check_video(probe(path, complete=True), Needs(audio=True, min_seconds=1.0))
    assert info.duration == pytest.approx(3.0, abs=0.05)
    assert usable_seconds(info) == pytest.approx(1.0, abs=0.05)
    assert describe_length(info) == ("; length mismatch: the sound is 2.00 s shorter than the picture, "
                                     "trimmed to 1.00 s")
    with pytest.raises(MediaError, match=r"apart\.mkv: 1\.00 s long once trimmed to its shorter stream, "
                                         r"shorter than the 2 s minimum \(one sample\)"):
        check_video(probe(path, complete=True), Needs(min_seconds=2.0, minimum="one sample"))
    header = probe(path)  # what the mux reads, cut to what the import stored
    assert trimmed(header, usable_seconds(info)).duration == pytest.approx(1.0, abs=0.05)
    assert trimmed(header, header.duration - 0.1) is header  # a small difference is no mismatch
    longer = ffmpeg(tmp_path / "longer.mkv", *PICTURE, *TONE, v=1.0, a=3.0)
    info = check_video(probe(longer, complete=True))
    assert usable_seconds(info) == pytest.approx(1.0, abs=0.05)
    assert describe_length(info).endswith("the sound is 2.00 s longer than the picture, cut at its end")


@pytest.mark.parametrize(("needs", "message"), [
    (Needs(audio=True), "has no audio stream"),
    (Needs(max_seconds=1.5, longest="VIDEO_MAX_SECONDS"),
     r"2\.0 s long; the limit is 1\.5 s \(VIDEO_MAX_SECONDS\)"),
    (Needs(max_long_side=32, max_short_side=32), "64x48 is larger than the 32x32 limit; scale it down first"),
])  # fmt: skip
def test_the_usability_check_names_the_unmet_need(tmp_path, needs, message):
    path = ffmpeg(tmp_path / "mute.mp4", *PICTURE)
    with pytest.raises(MediaError, match=f"^{path}: {message}"):
        check_video(probe(path, complete=True), needs)
    sound = ffmpeg(tmp_path / "bang.wav", *TONE)
    with pytest.raises(MediaError, match=r"bang\.wav: has no video stream \(is it a sound file\?\)"):
        check_video(probe(sound, complete=True))


def test_one_suffix_list_knows_videos_and_sounds(tmp_path):
    for name in ("a.ogv", "a.MKV", "a.ogg", "a.wav", "a.flac", "a.txt"):
        (tmp_path / name).write_bytes(b"x")
    assert [p.name for p in sorted(tmp_path.iterdir()) if is_video_file(p)] == ["a.MKV", "a.ogg", "a.ogv"]
    assert [p.name for p in sorted(tmp_path.iterdir()) if is_sound_file(p)] == ["a.flac", "a.ogg", "a.wav"]
    assert not is_video_file(tmp_path / "missing.mp4")
