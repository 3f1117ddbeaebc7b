"""make_dataset's difficulty settings: the defaults leave the generator as it was, each setting does
what it says (measured on generated files), bad values are refused by name."""

import hashlib
import json
from pathlib import Path

import pytest

from retrieval.data import decode_video, read_manifest
from retrieval.data.synth import make_dataset
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


if __name__ == "__main__":  # writes the reference: run once, on the generator before the settings
    import tempfile

    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as mp:
        REFERENCE.write_text(json.dumps(fingerprint(reference_dataset(Path(tmp) / "ref", mp)), indent=1)
                             + "\n")
