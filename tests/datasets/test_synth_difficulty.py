"""make_dataset's difficulty settings: the defaults leave the generator as it was, each setting does
what it says (measured on generated files), bad values are refused by name."""

import csv
import hashlib
import io
import json
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from scipy.io import wavfile

from retrieval.data import DatasetError, decode_video, read_manifest
from retrieval.data.synth import SLOT, make_dataset
from retrieval.presets import PRESETS

REFERENCE = Path(__file__).with_name("synth_reference.json")
REFERENCE_SIZE = {"days": 3, "minutes_per_day": 0.5, "seed": 5}


def fingerprint(dataset: Path) -> dict:
    """What must not change: the manifest, the annotations, every sample's WAV byte for byte, and
    each sample's mean picture (x264's threads may change the MP4s in a few bits, so a value)."""
    rows = read_manifest(dataset)
    digest = lambda p: hashlib.sha256(Path(p).read_bytes()).hexdigest()  # noqa: E731
    return {"manifest": digest(dataset / "manifest.csv"),
            "annotations": digest(dataset / "annotations.csv"),
            "wav": {r.clip_id: digest(r.audio) for r in rows},
            "picture": {r.clip_id: float(decode_video(r.video, PRESETS["demo"]).mean()) for r in rows}}


def reference_dataset(out: Path, monkeypatch, **settings) -> Path:
    # the babble (numpy alone) instead of espeak-ng, whose version would change the speech
    monkeypatch.setenv("PATH", str(out.parent))
    return make_dataset(out, progress=False, log=lambda m: None, **REFERENCE_SIZE, **settings)


def test_it_generates_what_it_generated_before_the_settings_by_default(tmp_path, monkeypatch):
    got = fingerprint(reference_dataset(tmp_path / "ref", monkeypatch))
    want = json.loads(REFERENCE.read_text())
    assert got["manifest"] == want["manifest"] and got["annotations"] == want["annotations"]
    assert got["wav"] == want["wav"]
    assert got["picture"] == pytest.approx(want["picture"], abs=0.05)


# 3 days of 9 slots: 4 targets a day (round(4.5)), and at 0.25 each round(2.25) = 2 visual and 2
# acoustic distractors in the 5 slots left
SIZE = {"days": 3, "minutes_per_day": 1.0, "seed": 4}
HARD = {"visual_distractors": 0.25, "acoustic_distractors": 0.25, "burial_db": 12.0}


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("plain") / "ds", progress=False, log=lambda m: None, **SIZE)


@pytest.fixture(scope="module")
def hard(tmp_path_factory):
    out = tmp_path_factory.mktemp("hard") / "ds"
    said = io.StringIO()
    call_command("make_dataset", str(out), "--days", "3", "--minutes-per-day", "1", "--seed", "4",
                 "--visual-distractors", "0.25", "--acoustic-distractors", "0.25", "--burial-db", "12",
                 "--no-progress", stdout=io.StringIO(), stderr=said)
    assert ("distractors labelled 'no effect': 6 visual (no sound), 6 acoustic (nothing on screen)"
            in said.getvalue())
    return out


def planted(dataset: Path) -> list[dict]:
    with open(dataset / "planted.csv") as f:
        return list(csv.DictReader(f))


def clip_of(event: dict) -> str:
    day = event["recording"].replace("/", "-").removesuffix(".mp4")
    return f"{day}-{int(float(event['start']) // SLOT):05d}"


def wave(dataset: Path, clip_id: str) -> np.ndarray:
    return wavfile.read(dataset / "clips" / f"{clip_id}.wav")[1].astype(np.float64)


def level_db(x: np.ndarray) -> float:
    return 10 * math.log10(np.mean(x ** 2) + 1e-9)


def test_it_plants_the_shares_asked_for_and_labels_every_distractor_no_effect(plain, hard):
    events = planted(hard)
    per_day = Counter((e["recording"], e["kind"]) for e in events)
    assert set(per_day.values()) == {4, 2} and len(per_day) == 9  # 4 targets, 2 visual, 2 acoustic a day
    slots = Counter(clip_of(e) for e in events)
    assert max(slots.values()) == 1  # one event a slot: distractors only where no target is
    rows = {r.clip_id: r for r in read_manifest(hard)}
    for e in events:
        start, end = float(e["start"]), float(e["end"])
        assert int(start // SLOT) == int((end - 1e-6) // SLOT)  # whole inside its slot
        assert rows[clip_of(e)].has_se == (e["kind"] == "target")
    # the targets, their labels and their classes are the default dataset's: only distractors are added
    assert (hard / "annotations.csv").read_text() == (plain / "annotations.csv").read_text()
    assert [(r.clip_id, r.has_se, r.se_class, r.se_onset) for r in read_manifest(plain)] == \
        [(r.clip_id, r.has_se, r.se_class, r.se_onset) for r in rows.values()]
    assert {e["kind"] for e in planted(plain)} == {"target"}


def test_a_visual_distractor_is_seen_and_not_heard_an_acoustic_one_heard_and_not_seen(plain, hard):
    for e in planted(hard):
        if e["kind"] == "target":
            continue
        clip = clip_of(e)
        a, b = wave(plain, clip), wave(hard, clip)
        b_fit = b * (a @ b) / (b @ b)  # the day's sound may be scaled down for its peak
        start = float(e["start"]) - int(float(e["start"]) // SLOT) * SLOT
        i, j = round(start * 48_000), round((start + float(e["end"]) - float(e["start"])) * 48_000)
        frames = [decode_video(d / "clips" / f"{clip}.mp4", PRESETS["demo"]).astype(float)
                  for d in (plain, hard)]
        k = int(start * 5) + 2  # a frame inside the event
        picture = np.abs(frames[0][k] - frames[1][k]).mean()
        sound = level_db(b_fit[i:j] - a[i:j]) - level_db(a[i:j])  # what was added, against what was there
        if e["kind"] == "visual":
            assert picture > 20 and sound < -30, (clip, picture, sound)
        else:  # heard at its planted level (less up to 5 dB: an effect's level is that of its loud part)
            planted_db = float(e["level_db"])
            assert picture < 1 and planted_db - 5 < sound < planted_db + 1, (clip, picture, sound, planted_db)


def test_burial_lowers_every_effect_by_its_decibels(plain, hard):
    got = [float(e["level_db"]) for e in planted(hard) if e["kind"] != "visual"]
    was = [float(e["level_db"]) for e in planted(plain)]
    assert min(was) >= -6 and max(was) <= 6 and min(got) >= -18 and max(got) <= -6
    # the same draw, 12 dB lower: targets pair one to one with the default dataset's
    targets = [float(e["level_db"]) for e in planted(hard) if e["kind"] == "target"]
    assert targets == pytest.approx([w - 12 for w in was], abs=0.011)
    # and in the files: the effect's interval stands out of its sample by less
    def rise(dataset):
        out = []
        for e in planted(dataset):
            if e["kind"] == "target":
                x = wave(dataset, clip_of(e))
                start = float(e["start"]) % SLOT
                i, j = round(start * 48_000), round((start + float(e["end"]) - float(e["start"])) * 48_000)
                out.append(level_db(x[i:j]) - level_db(np.r_[x[:i], x[j:]]))
        return np.mean(out)
    assert rise(plain) - rise(hard) > 1.5, (rise(plain), rise(hard))


def test_it_records_the_settings_and_what_it_planted(plain, hard):
    info = json.loads((hard / "dataset.json").read_text())
    assert info["difficulty"] | {"label": None} == {**HARD, "effect_level_db": [-18.0, -6.0], "label": None}
    assert info["planted"] == {"targets": 12, "visual_distractors": 6, "acoustic_distractors": 6}
    default = json.loads((plain / "dataset.json").read_text())["difficulty"]
    assert default["visual_distractors"] == default["acoustic_distractors"] == default["burial_db"] == 0


@pytest.mark.parametrize("setting, value, message", [
    ("visual_distractors", -0.1, "visual_distractors must be a share of the slots between 0 and 0.5, "
                                 "got -0.1"),
    ("acoustic_distractors", 0.6, "acoustic_distractors must be a share of the slots between 0 and 0.5"),
    ("acoustic_distractors", math.nan, "acoustic_distractors must be .* got nan"),
    ("visual_distractors", "0.2", "visual_distractors must be .* got '0.2'"),
    ("burial_db", -3, "burial_db must be between 0 and 30 dB .* got -3"),
    ("burial_db", math.inf, "burial_db must be between 0 and 30 dB .* got inf"),
])
def test_it_refuses_a_bad_setting_by_name_and_creates_nothing(tmp_path, setting, value, message):
    with pytest.raises(DatasetError, match=message):
        make_dataset(tmp_path / "x", days=3, minutes_per_day=0.5, progress=False, **{setting: value})
    assert list(tmp_path.iterdir()) == []


def test_the_command_refuses_distractor_shares_adding_up_past_half(tmp_path):
    with pytest.raises(CommandError, match=r"visual_distractors \+ acoustic_distractors must be at most "
                                           r"0.5 .* got 0.3 \+ 0.3"):
        call_command("make_dataset", str(tmp_path / "x"), "--days", "3", "--visual-distractors", "0.3",
                     "--acoustic-distractors", "0.3", "--no-progress")
    assert list(tmp_path.iterdir()) == []


if __name__ == "__main__":  # writes the reference: run once, on the generator before the settings
    import tempfile

    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as mp:
        REFERENCE.write_text(json.dumps(fingerprint(reference_dataset(Path(tmp) / "ref", mp)), indent=1)
                             + "\n")
