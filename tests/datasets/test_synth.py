"""make_dataset: the synthetic benchmark's shapes, rates, labels, splits, and real sound effects."""

import csv
import io
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from scipy.io import wavfile

from retrieval.data import DatasetError, decode_audio, decode_video, probe, read_manifest
from retrieval.data.synth import SAMPLE_RATE, SLOT, make_dataset
from retrieval.data.synth_audio import SOUND_CLASSES
from retrieval.presets import PRESETS
from tests.datasets.conftest import DAYS

SONIC_PI = Path("/usr/share/sonic-pi/samples")


def test_it_generates_clips_of_the_right_shapes_rates_and_durations(synthetic):
    rows = read_manifest(synthetic)
    assert len(rows) == DAYS * 7
    for row in rows:
        info = probe(row.video)
        assert info.has_video and info.has_audio and abs(info.duration - 6.4) < 0.05
        assert info.sample_rate == 48_000
        rate, wave = wavfile.read(row.audio)
        assert rate == 48_000 and wave.shape == (307_200,) and np.abs(wave).max() > 1000
    frames = decode_video(rows[0].video, PRESETS["demo"])
    assert frames.shape == (32, 64, 64, 3)


def test_it_balances_labels_and_keeps_whole_days_in_one_split(synthetic):
    rows = read_manifest(synthetic)
    by_split = {s: {r.source for r in rows if r.split == s} for s in ("train", "valid", "test")}
    assert by_split == {"train": {"day-01"}, "valid": {"day-02"}, "test": {"day-03"}}
    for day in ("day-01", "day-02", "day-03"):
        labels = [r.has_se for r in rows if r.source == day]
        assert sum(labels) == 4 and len(labels) == 7  # round(7 / 2)
    assert set(Counter(r.se_class for r in rows if r.has_se)) <= set(SOUND_CLASSES)


def test_it_puts_each_effect_whole_inside_its_sample(synthetic):
    rows = {r.clip_id: r for r in read_manifest(synthetic)}
    with open(synthetic / "annotations.csv") as f:
        effects = list(csv.DictReader(f))
    assert len(effects) == sum(r.has_se for r in rows.values())
    for e in effects:
        start, end = float(e["start"]), float(e["end"])
        slot = int(start // SLOT)
        assert end <= (slot + 1) * SLOT and 0.3 - 1e-3 <= end - start <= 3.0 + 1e-3
        row = rows[f"{e['recording'].replace('/', '-').removesuffix('.mp4')}-{slot:05d}"]
        assert row.has_se and row.se_class == e["class"]
        assert row.se_onset == pytest.approx(start - slot * SLOT, abs=1e-3)
        assert 0 < row.se_onset < SLOT - (end - start)


def test_it_shows_the_visual_effect_from_the_onset(synthetic):
    # the picture changes much more across an effect's onset than across the same time elsewhere
    changes, quiet = [], []
    for row in read_manifest(synthetic):
        frames = decode_video(row.video, PRESETS["demo"]).astype(float)
        k = int(round(row.se_onset * 5)) + 1 if row.has_se else 16
        change = np.abs(frames[k] - frames[k - 2]).mean()
        (changes if row.has_se else quiet).append(change)
    assert np.median(changes) > 4 * np.median(quiet)


def test_it_is_reproducible_from_its_seed_and_describes_itself(synthetic, tmp_path):
    again = make_dataset(tmp_path / "again", days=DAYS, minutes_per_day=0.75, seed=1, progress=False)
    assert (again / "annotations.csv").read_text() == (synthetic / "annotations.csv").read_text()
    info = json.loads((synthetic / "dataset.json").read_text())
    assert info["seed"] == 1 and info["sound_effects"] == "synthesised"
    assert set(info["classes"]) == set(SOUND_CLASSES) and info["speech"] == "espeak-ng"


def test_it_refuses_bad_sizes_and_an_existing_folder(synthetic, tmp_path):
    with pytest.raises(DatasetError, match="days must be at least 3"):
        make_dataset(tmp_path / "x", days=2, progress=False)
    with pytest.raises(DatasetError, match="at least 2 samples"):
        make_dataset(tmp_path / "x", minutes_per_day=0.1, progress=False)
    with pytest.raises(DatasetError, match="already exists"):
        make_dataset(synthetic, days=3, minutes_per_day=0.5, progress=False)
    with pytest.raises(DatasetError, match="nowhere: sound-effect folder does not exist"):
        make_dataset(tmp_path / "x", sfx_dir=tmp_path / "nowhere", progress=False)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
@pytest.mark.skipif(not SONIC_PI.is_dir(), reason="sonic-pi-samples is not installed "
                    "(apt-get install sonic-pi-samples) at /usr/share/sonic-pi/samples")
def test_it_builds_a_benchmark_from_real_recordings(tmp_path):
    out = make_dataset(tmp_path / "sonic", days=3, minutes_per_day=1.0, seed=2, sfx_dir=SONIC_PI,
                       progress=False)
    rows = read_manifest(out)
    info = json.loads((out / "dataset.json").read_text())
    # classes are the file-name prefixes (bd_, drum_, elec_, ...), one visual effect each
    prefixes = {p.stem.split("_")[0] for p in SONIC_PI.glob("*.flac")}
    assert set(info["classes"]) <= prefixes and len(info["classes"]) >= 6
    used = {r.se_class for r in rows if r.has_se}
    assert used <= set(info["classes"]) and len(used) >= 5
    assert info["sound_effects"] == str(SONIC_PI)


def test_it_runs_as_a_management_command(tmp_path):
    out = io.StringIO()
    call_command("make_dataset", str(tmp_path / "cmd"), "--days", "3", "--minutes-per-day", "0.25",
                 "--no-progress", stdout=out)
    text = out.getvalue()
    assert "6 samples in" in text and "train: 2 samples, 1 with a sound effect, days day-01" in text
    with pytest.raises(CommandError, match="already exists"):
        call_command("make_dataset", str(tmp_path / "cmd"), "--days", "3", "--no-progress")


def test_it_falls_back_to_babble_without_espeak(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no espeak-ng on this PATH
    said = []
    out = make_dataset(tmp_path / "babble", days=3, minutes_per_day=0.25, progress=False, log=said.append)
    assert json.loads((out / "dataset.json").read_text())["speech"] == "synthetic babble"
    assert said == ["speech: espeak-ng is not installed (apt-get install espeak-ng); "
                    "using a synthetic babble"]
    assert len(read_manifest(out)) == 6


def _sfx_folder(root: Path) -> Path:
    """Effects as a user's folder has them: numbered names, an mp3, one too short, a text file."""
    import subprocess

    import imageio_ffmpeg

    from retrieval.data.synth_audio import synth_effect
    from retrieval.data.writers import write_wav

    rng = np.random.default_rng(0)
    root.mkdir()
    for i, cls in enumerate(["ding", "rise", "impact"]):
        for k in range(3):
            write_wav(root / f"{i * 3 + k:02d}_{cls}_take{k}.wav", synth_effect(cls, rng, 48_000), 48_000)
    write_wav(root / "09_click_short.wav", np.ones(2400, np.float32) * 0.5, 48_000)  # 0.05 s
    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    subprocess.run([ffmpeg, "-loglevel", "error", "-i", str(root / "00_ding_take0.wav"),
                    str(root / "10_ding_take3.mp3")], check=True)
    (root / "README.txt").write_text("where these came from")
    return root


def test_real_folders_split_by_recording_and_say_what_they_drop(tmp_path):
    said = []
    folder = _sfx_folder(tmp_path / "sfx")
    # a temporary folder left behind by a killed run of the same output is removed
    stale = tmp_path / ".bench.make-dead"
    stale.mkdir()
    (stale / "pid").write_text("999999999")
    out = make_dataset(tmp_path / "bench", days=3, minutes_per_day=0.75, seed=1, sfx_dir=folder,
                       progress=False, log=said.append)
    assert not stale.exists() and any("left behind by an interrupted run" in m for m in said)
    info = json.loads((out / "dataset.json").read_text())
    # numbered names: the class is the first word after the number; the mp3 is read
    assert set(info["classes"]) == {"ding", "rise", "impact"}
    assert any(p.endswith(".mp3") for c in info["recordings"].values() for p in c["train"] + c["held_out"])
    text = "\n".join(said)
    assert "ignored 1 file(s) that are not audio (1 .txt)" in text
    assert "shorter than 0.15 s" in text and "09_click_short.wav" in text
    assert "dropping 1 class(es) with fewer than 2 usable recording(s)" in text  # click: its only file
    for recordings in info["recordings"].values():  # held-out recordings are never used for training
        assert recordings["held_out"] and recordings["train"]
        assert not set(recordings["held_out"]) & set(recordings["train"])
    rows = read_manifest(out)
    planted = list(csv.DictReader(open(out / "annotations.csv")))
    assert sum(r.has_se for r in rows) == len(planted)  # every planted effect is labelled
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".bench.make-")]


def _speech_folder(root: Path) -> Path:
    """'Recorded speech' as a folder has it: tones at 1234 Hz standing in for utterances (so that
    the presenter's voice can be found in the recordings), one too short, one silent, one broken."""
    from retrieval.data.writers import write_wav

    sr = 16_000
    root.mkdir()
    for k, seconds in enumerate((1.5, 2.0, 2.5)):
        t = np.arange(int(seconds * sr)) / sr
        write_wav(root / f"prompt-{k}.wav", (0.3 * np.sin(2 * np.pi * 1234 * t)).astype(np.float32), sr)
    write_wav(root / "short.wav", np.full(sr // 2, 0.3, np.float32), sr)
    write_wav(root / "silent.wav", np.zeros(2 * sr, np.float32), sr)
    (root / "broken.wav").write_bytes(b"RIFF not really a wave")
    return root


def _tone_share(dataset: Path, hz: float = 1234) -> float:
    """Share of the first day's audio energy within 20 Hz of `hz`."""
    wave = decode_audio(dataset / "recordings" / "day-01" / "broadcast.mp4", SAMPLE_RATE)
    power = np.abs(np.fft.rfft(wave)) ** 2
    freqs = np.fft.rfftfreq(len(wave), 1 / SAMPLE_RATE)
    return float(power[np.abs(freqs - hz) < 20].sum() / power.sum())


def test_the_presenter_speaks_recorded_utterances_from_a_folder(tmp_path):
    said = []
    folder = _speech_folder(tmp_path / "speech")
    out = make_dataset(tmp_path / "spoken", days=3, minutes_per_day=0.5, seed=3, speech_dir=folder,
                       progress=False, log=said.append)
    info = json.loads((out / "dataset.json").read_text())
    assert info["speech"] == {"recorded": str(folder), "utterances": 3}
    text = "\n".join(said)
    assert "speech: 3 recorded utterances from" in text
    assert "skipped 1 unreadable, 1 silent, 1 shorter than 1 s" in text and "broken.wav" in text
    default = make_dataset(tmp_path / "espeak", days=3, minutes_per_day=0.5, seed=3, progress=False)
    spoken, espeak = _tone_share(out), _tone_share(default)
    assert spoken > 10 * espeak, (spoken, espeak)  # the folder's voice is in the soundtrack


def test_it_refuses_a_speech_folder_without_a_usable_utterance_and_creates_nothing(tmp_path):
    with pytest.raises(DatasetError, match="speech folder does not exist"):
        make_dataset(tmp_path / "x", days=3, speech_dir=tmp_path / "nowhere", progress=False)
    folder = _speech_folder(tmp_path / "speech")
    for f in folder.glob("prompt-*.wav"):
        f.unlink()
    with pytest.raises(CommandError, match=r"no recorded utterance of at least 1 s among 3 audio file"):
        call_command("make_dataset", str(tmp_path / "x"), "--days", "3", "--speech", str(folder),
                     "--no-progress")
    assert not (tmp_path / "x").exists() and not list(tmp_path.glob(".x.make-*"))
