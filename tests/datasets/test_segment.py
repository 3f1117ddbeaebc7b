"""segment: hand-made recordings with known intervals become exactly the expected samples."""

import io
import shutil
from contextlib import closing
from pathlib import Path

import av
import numpy as np
import pytest
from django.core.management import CommandError, call_command
from scipy.io import wavfile

from media.reader import WAIT_LIMIT_S, RecordingReader
from retrieval.data import DatasetError, MediaError, decode_audio, decode_video, probe, read_manifest
from retrieval.data.segment import segment
from retrieval.presets import Preset
from tests.datasets.helpers import make_recording, read_index, tone

ANNOTATIONS = """recording,start,end,class
day1/show.mkv,1.0,2.0,boom
day1/show.mkv,13.5,14.2,pop
show.mp4,6.2,7.0,ding
"""
EXPECTED = [  # clip_id, split, has_se, source, se_onset, se_class
    ("day1-show-00000", "train", True, "day1", 1.0, "boom"),
    ("day1-show-00001", "train", False, "day1", None, ""),
    ("day1-show-00002", "train", True, "day1", 0.7, "pop"),
    ("day2-show-00000", "valid", True, "day2", 6.2, "ding"),
    ("day2-show-00001", "valid", True, "day2", 0.0, "ding"),
    ("day3-news-00000", "test", False, "day3", None, ""),
]


@pytest.fixture(scope="module")
def recordings(tmp_path_factory):
    root = tmp_path_factory.mktemp("recordings")
    make_recording(root / "day1" / "show.mkv", 20.0, fps=30)
    make_recording(root / "day2" / "show.mp4", 14.0, fps=25, sample_rate=22_050, channels=1)
    make_recording(root / "day3" / "news.mp4", 7.0, fps=30)
    (root.parent / "annotations.csv").write_text(ANNOTATIONS)
    return root


@pytest.fixture(scope="module")
def dataset(recordings, tmp_path_factory):
    out = tmp_path_factory.mktemp("segmented") / "ds"
    report = segment(recordings, recordings.parent / "annotations.csv", out, progress=False)
    return out, report


def summary(rows):
    return [(r.clip_id, r.split, r.has_se, r.source, r.se_onset, r.se_class) for r in rows]


def test_it_cuts_known_intervals_into_exactly_the_expected_samples(dataset):
    out, report = dataset
    assert summary(read_manifest(out)) == EXPECTED
    assert (report.samples, report.with_se, report.recordings, report.skipped) == (6, 4, 3, [])
    assert report.splits == {"train": ["day1"], "valid": ["day2"], "test": ["day3"]}


def test_it_writes_each_sample_as_mp4_with_sound_and_a_48k_wav(dataset):
    out, _ = dataset
    for row in read_manifest(out):
        info = probe(row.video)
        assert info.has_video and info.has_audio and abs(info.duration - 6.4) < 0.05
        assert info.fps == (25 if row.source == "day2" else 30)
        rate, wave = wavfile.read(row.audio)
        assert rate == 48_000 and wave.shape == (307_200,)


def test_it_cuts_picture_and_sound_at_the_sample_start(dataset):
    out, _ = dataset
    row = read_manifest(out)[1]  # day1, 6.4 s .. 12.8 s
    frames = decode_video(row.video, Preset("t", frames=4, size=32))
    assert [read_index(f) for f in frames] == [192, 198, 204, 210]
    expected = tone(6.4 + np.arange(307_200) / 48_000)
    for wave in (wavfile.read(row.audio)[1] / 32767, decode_audio(row.video, 48_000, seconds=6.4)):
        assert np.corrcoef(wave[2400:], expected[2400:])[0, 1] > 0.99


def test_it_takes_sample_length_and_hop_as_options(recordings, tmp_path):
    report = segment(recordings, recordings.parent / "annotations.csv", tmp_path / "ds", hop=3.2,
                     split_by="recording", progress=False)
    rows = read_manifest(tmp_path / "ds")
    assert report.samples == 9 and [r.clip_id for r in rows][:5] == [f"day1-show-{k:05d}" for k in range(5)]
    assert read_index(decode_video(rows[1].video, Preset("t", frames=1, size=32))[0]) == 96
    assert rows[0].source == "day1/show.mkv"
    short = segment(recordings, recordings.parent / "annotations.csv", tmp_path / "ds2", clip_seconds=4.0,
                    progress=False)
    assert short.samples == 5 + 3 + 1
    assert abs(probe(read_manifest(tmp_path / "ds2")[0].video).duration - 4.0) < 0.05


@pytest.fixture
def small(tmp_path):
    """Three 7 s recordings, one sample each; tests break one of them."""
    root = tmp_path / "rec"
    for day in ("day1", "day2", "day3"):
        make_recording(root / day / "rec.mp4", 7.0, size=(64, 36))
    return root


def run(small, annotations: str, **kw):
    (small.parent / "ann.csv").write_text("recording,start,end,class\n" + annotations)
    return segment(small, small.parent / "ann.csv", small.parent / "out", progress=False, **kw)


def assert_nothing_left(small):
    assert sorted(p.name for p in small.parent.iterdir()) == ["ann.csv", "rec"]


@pytest.mark.parametrize("annotations, message", [
    ("day2/rec.mp4,5.0,7.5,boom\n", r"ann.csv, row 2: interval 5.0-7.5 s lies outside .*day2/rec.mp4 \(7.0"),
    ("day2/rec.mp4,1.0,3.0,boom\nday2/rec.mp4,2.5,4.0,pop\n", r"ann.csv, rows 2 and 3: intervals overlap"),
    ("day2/rec.mp4,one,3.0,boom\n", r"ann.csv, row 2: start is not a number \(got 'one'\)"),
    ("day2/rec.mp4,3.0,2.0,boom\n", r"ann.csv, row 2: need 0 <= start < end"),
    ("day2/rec.mp4,1.0,2.0,\n", r"ann.csv, row 2: class is empty"),
    ("day2/rec.mp4,1.0\n", r"ann.csv, row 2: wrong number of fields"),
])
def test_it_names_the_file_and_row_of_a_bad_annotation(small, annotations, message):
    with pytest.raises(DatasetError, match=message):
        run(small, annotations)
    assert_nothing_left(small)


def test_it_names_an_annotation_for_an_unknown_recording(small):
    with pytest.raises(DatasetError, match=r"ann.csv, row 2: recording 'day9/rec.mp4' is not a recording"):
        run(small, "day9/rec.mp4,1,2,boom\n")
    with pytest.raises(DatasetError, match=r"row 2: recording 'rec.mp4' is ambiguous"):
        run(small, "rec.mp4,1,2,boom\n")


@pytest.mark.parametrize("make, message", [
    (lambda p: make_recording(p, 7.0, size=(64, 36), audio=False), r"day2/rec.mp4: has no audio stream"),
    (lambda p: make_recording(p, 5.0, size=(64, 36)),
     r"day2/rec.mp4: 5.0\d s long, shorter than the 6.4 s minimum \(one sample\)"),
    (lambda p: p.write_bytes(b"\x00garbage" * 1000), r"day2/rec.mp4: not a readable media file"),
])
def test_it_names_a_bad_recording_and_leaves_nothing_behind(small, make, message):
    make(small / "day2" / "rec.mp4")
    with pytest.raises(MediaError, match=message):
        run(small, "")
    assert_nothing_left(small)


def test_it_skips_and_counts_bad_recordings_when_asked(small):
    for day in ("day4", "day5"):
        make_recording(small / day / "rec.mp4", 7.0, size=(64, 36))
    make_recording(small / "day2" / "rec.mp4", 7.0, size=(64, 36), audio=False)
    report = run(small, "day3/rec.mp4,1,2,boom\nday3/rec.mp4,1.5,2.5,pop\n", skip_bad=True)
    assert report.samples == 3 and report.recordings == 3 and len(report.skipped) == 2
    assert "day2/rec.mp4: has no audio stream" in report.skipped[0] and "overlap" in report.skipped[1]
    # splits are drawn among the sources left
    assert report.splits == {"train": ["day1"], "valid": ["day4"], "test": ["day5"]}
    assert {r.source for r in read_manifest(small.parent / "out")} == {"day1", "day4", "day5"}


def test_it_fails_when_skipping_leaves_too_few_sources(small):
    make_recording(small / "day2" / "rec.mp4", 7.0, size=(64, 36), audio=False)
    with pytest.raises(DatasetError, match="2 source.*cannot give train, 1 valid and 1 test"):
        run(small, "", skip_bad=True)
    assert_nothing_left(small)


def test_it_keeps_an_existing_dataset_when_a_rerun_fails(small):
    run(small, "day1/rec.mp4,1,2,boom\n")
    before = (small.parent / "out" / "manifest.csv").read_text()
    with pytest.raises(DatasetError, match="already exists"):
        run(small, "")
    shutil.rmtree(small / "day3")
    (small / "day3").mkdir()
    (small / "day3" / "rec.mp4").write_bytes(b"broken")
    with pytest.raises(MediaError):
        run(small, "", overwrite=True)
    assert (small.parent / "out" / "manifest.csv").read_text() == before
    assert sorted(p.name for p in small.parent.iterdir()) == ["ann.csv", "out", "rec"]


def test_it_needs_a_source_for_each_split(small):
    shutil.rmtree(small / "day3")
    with pytest.raises(DatasetError, match="2 source.*cannot give train, 1 valid and 1 test"):
        run(small, "")


def test_it_runs_as_a_management_command(small):
    (small.parent / "ann.csv").write_text("recording,start,end,class\nday1/rec.mp4,1,2,boom\n")
    out = io.StringIO()
    call_command("segment", "--recordings", str(small), "--annotations", str(small.parent / "ann.csv"),
                 "--out", str(small.parent / "out"), "--no-progress", "--jobs", "2", stdout=out)
    assert "3 samples (1 with a sound effect) from 3 recording(s)" in out.getvalue()
    assert "  test: day3" in out.getvalue()
    (small.parent / "ann.csv").write_text("recording,start,end,class\nday1/rec.mp4,9,10,boom\n")
    with pytest.raises(CommandError, match=r"ann.csv, row 2: interval 9.0-10.0 s lies outside"):
        call_command("segment", "--recordings", str(small), "--annotations", str(small.parent / "ann.csv"),
                     "--out", str(small.parent / "out2"), "--no-progress")


def test_it_keeps_recordings_with_the_same_name_apart(small):
    make_recording(small / "day1" / "rec.mkv", 7.0, size=(64, 36))
    run(small, "rec.mkv,1,2,boom\n")
    rows = read_manifest(small.parent / "out")
    assert [r.clip_id for r in rows] == ["day1-rec-mkv-00000", "day1-rec-mp4-00000", "day2-rec-00000",
                                         "day3-rec-00000"]
    assert [r.has_se for r in rows] == [True, False, False, False]


def store_apart(src: Path, dst: Path) -> Path:
    """A copy of `src` (the same packets) that writes every video packet before the first audio one."""
    # a muxer holds packets back to interleave them, up to max_interleave_delta (10 s): 1 us writes at once
    with av.open(str(src)) as i, av.open(str(dst), "w", options={"max_interleave_delta": "1"}) as o:
        pairs = [(s, o.add_stream_from_template(s)) for s in (i.streams.video[0], i.streams.audio[0])]
        for stream, out in pairs:
            i.seek(0)
            for packet in i.demux(stream):
                if packet.size:  # not the flushing packet at the end
                    packet.stream = out
                    o.mux(packet)
    return dst


@pytest.fixture(scope="module")
def layouts(tmp_path_factory):
    """20 s recordings as ffmpeg interleaves them, and the same packets stored apart."""
    root = tmp_path_factory.mktemp("layouts")
    made = {}
    for suffix in (".mp4", ".mkv"):
        made[suffix] = make_recording(root / f"show{suffix}", 20.0, fps=25, size=(64, 36))
        made[f"apart{suffix}"] = store_apart(made[suffix], root / f"apart{suffix}")
    return made


def read_like_segment(path, count=3, seconds=6.4, rate=48_000):
    """Reads as segment does (a window's sound once its frames are in): frame times, the windows'
    sound, the most seconds of video that waited, and whether the sound was read apart."""
    times, waves, most, n = [], [], 0.0, round(seconds * rate)
    with closing(RecordingReader(path, rate)) as reader:
        for _, t in reader.frames():
            while len(waves) < count and (len(waves) + 1) * seconds <= t + 1e-6:
                waves.append(reader.take(len(waves) * n, n))
                most = max(most, reader.waiting_seconds())
            times.append(round(t, 3))
        return times, waves, most, reader.separate_audio


@pytest.mark.parametrize("name", [".mp4", ".mkv", "apart.mp4"])
def test_it_reads_picture_and_sound_in_one_pass(layouts, name, monkeypatch):
    opened = []
    real_open = av.open
    monkeypatch.setattr(av, "open", lambda *a, **kw: opened.append(a[0]) or real_open(*a, **kw))
    times, waves, most, apart = read_like_segment(layouts[name])
    assert opened == [str(layouts[name])] and not apart  # FFmpeg's MP4 reader reorders by time itself
    assert times == [round(k / 25, 3) for k in range(500)] and most < 1.0
    expected = tone(np.arange(307_200) / 48_000)
    assert np.corrcoef(waves[0][2400:], expected[2400:])[0, 1] > 0.99


def test_it_reads_the_sound_apart_when_a_file_stores_the_streams_far_apart(layouts):
    times, waves, most, apart = read_like_segment(layouts["apart.mkv"])
    assert apart and most <= WAIT_LIMIT_S + 0.1  # Matroska is read in file order: all the video first
    ref_times, ref_waves, _, _ = read_like_segment(layouts[".mkv"])
    assert times == ref_times and len(waves) == 3
    for wave, ref in zip(waves, ref_waves, strict=True):
        np.testing.assert_array_equal(wave, ref)


def test_it_cuts_a_recording_stored_apart_like_an_interleaved_one(layouts, tmp_path):
    root = tmp_path / "rec"
    (root / "day1").mkdir(parents=True)
    shutil.copy(layouts["apart.mkv"], root / "day1" / "show.mkv")
    for day in ("day2", "day3"):
        make_recording(root / day / "rec.mp4", 7.0, size=(64, 36))
    (tmp_path / "ann.csv").write_text("recording,start,end,class\n")
    segment(root, tmp_path / "ann.csv", tmp_path / "out", progress=False)
    row = read_manifest(tmp_path / "out")[1]  # 6.4 s .. 12.8 s
    frames = decode_video(row.video, Preset("t", frames=4, size=32))
    assert [read_index(f) for f in frames] == [160, 165, 170, 175]
    expected = tone(6.4 + np.arange(307_200) / 48_000)
    assert np.corrcoef(wavfile.read(row.audio)[1][2400:] / 32767, expected[2400:])[0, 1] > 0.99


def files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((folder / "clips").glob("*.wav"))}


def test_it_cuts_recordings_in_parallel_into_the_same_dataset(recordings, dataset, tmp_path):
    out, _ = dataset
    report = segment(recordings, recordings.parent / "annotations.csv", tmp_path / "ds", jobs=2,
                     progress=False)
    assert summary(read_manifest(tmp_path / "ds")) == EXPECTED and report.samples == 6
    assert files(tmp_path / "ds") == files(out)  # the same sound, sample for sample
    frames = decode_video(read_manifest(tmp_path / "ds")[1].video, Preset("t", frames=4, size=32))
    assert [read_index(f) for f in frames] == [192, 198, 204, 210]


def test_it_skips_or_stops_at_a_bad_recording_in_parallel_as_in_one_process(small):
    for day in ("day4", "day5"):
        make_recording(small / day / "rec.mp4", 7.0, size=(64, 36))
    (small / "day2" / "rec.mp4").write_bytes(b"\x00garbage" * 1000)
    for jobs in (1, 3):
        with pytest.raises(MediaError, match=r"day2/rec.mp4: not a readable media file"):
            run(small, "", jobs=jobs)
        assert_nothing_left(small)  # the processes still cutting were waited for before the clean-up
    report = run(small, "day3/rec.mp4,1,2,boom\nday3/rec.mp4,1.5,2.5,pop\n", skip_bad=True, jobs=3)
    assert (report.samples, report.recordings, len(report.skipped)) == (3, 3, 2)
    assert "day2/rec.mp4: not a readable media file" in report.skipped[0] and "overlap" in report.skipped[1]
    with pytest.raises(DatasetError, match=r"jobs must be at least 1 \(got 0\)"):
        run(small, "", jobs=0)
