"""Where the synthetic benchmark's sounds come from: its sound-effect banks and the presenter's speech.

`SynthBank` synthesises every effect afresh; `FolderBank` draws real recordings (class = the
sub-folder or the file-name prefix, `sfx_class`), keeping those of valid and test days apart from
the training days'. `recorded_speech` gives the presenter's utterances from a folder of recordings.
"""

import hashlib
from collections import Counter
from pathlib import Path

import numpy as np

from media import SOUND_SUFFIXES, decode_audio, is_sound_file, listed

from . import synth_audio as sa
from .errors import DatasetError, MediaError
from .synth_video import PALETTE

SAMPLE_RATE = 48_000
MAX_UTTERANCES = 64  # recorded speech: utterances decoded and kept for the presenter
MIN_UTTERANCE_SECONDS = 1.0
MAX_SFX_CLASSES = len(PALETTE)
MIN_EFFECT_SECONDS = 0.15  # segment labels an effect that overlaps a sample by 0.1 s


class SynthBank:
    """Synthesised sound effects, one class per visual kind; every instance is drawn afresh."""

    source = "synthesised"

    def __init__(self):
        self.classes = list(sa.SOUND_CLASSES)

    def draw(self, cls: str, rng, held_out: bool = False) -> np.ndarray:
        return sa.synth_effect(cls, rng, SAMPLE_RATE)


class FolderBank:
    """Real recordings: `DIR/<class>/*.<audio>`, or `DIR/<class>_<name>.<audio>`.

    With `split_by_recording` (the default) each class's files are divided once, by a hash of
    the file name: about a third are held out for the valid and test days and never used on a
    training day, so a test sound was never heard in training. Classes with fewer than 2 usable
    files cannot be split and are dropped; so are files shorter than MIN_EFFECT_SECONDS once
    leading silence is trimmed (segment would label them "no effect"). Every drop is logged.
    """

    def __init__(self, folder, split_by_recording: bool = True, log=print):
        folder = Path(folder)
        if not folder.is_dir():
            raise DatasetError(f"{folder}: sound-effect folder does not exist")
        self._decoded: dict[Path, np.ndarray] = {}
        files = self._usable(self._by_class(folder, log), log)
        need = 2 if split_by_recording else 1
        small = sorted(c for c, f in files.items() if len(f) < need)
        if small:
            log(f"dropping {len(small)} class(es) with fewer than {need} usable recording(s)"
                f"{' (a class needs one for training and one held out)' if split_by_recording else ''}: "
                + ", ".join(small[:8]) + (" ..." if len(small) > 8 else ""))
        files = {c: f for c, f in files.items() if len(f) >= need}
        if len(files) < 2:
            raise DatasetError(f"{folder}: need sound effects of at least 2 classes with {need}+ usable "
                               f"recordings each ({listed(SOUND_SUFFIXES)}), found {len(files)}; "
                               "a class is the sub-folder, or the file-name prefix before _ - or space")
        # the largest classes, each paired with its own visual effect and colour
        keep = sorted(files, key=lambda c: (-len(files[c]), c))[:MAX_SFX_CLASSES]
        dropped = sorted(set(files) - set(keep))
        if dropped:
            log(f"keeping the {len(keep)} largest classes; dropping {len(dropped)}: {', '.join(dropped)}")
        self.files = {c: files[c] for c in sorted(keep)}
        self.classes = list(self.files)
        self.source = str(folder)
        self.held = {c: self._held_out(f) if split_by_recording else list(f) for c, f in self.files.items()}
        self.train = {c: [p for p in f if p not in self.held[c]] if split_by_recording else list(f)
                      for c, f in self.files.items()}
        log(f"sound effects: {sum(map(len, self.files.values()))} recordings in {len(keep)} classes "
            f"({', '.join(f'{c} {len(f)}' for c, f in self.files.items())}); "
            + ("split by recording: " + f"{sum(map(len, self.held.values()))} held out for valid/test"
               if split_by_recording else "train and test draw from the same recordings"))

    @staticmethod
    def _by_class(folder: Path, log) -> dict[str, list[Path]]:
        """class -> its audio files; other files are counted by suffix and logged."""
        files: dict[str, list[Path]] = {}
        ignored: Counter[str] = Counter()
        for p in sorted(folder.rglob("*")):
            if is_sound_file(p):
                files.setdefault(sfx_class(p, folder), []).append(p)
            elif p.is_file():
                ignored[p.suffix.lower() or "(none)"] += 1
        if ignored:
            log(f"{folder}: ignored {sum(ignored.values())} file(s) that are not audio "
                f"({', '.join(f'{n} {ext}' for ext, n in sorted(ignored.items()))})")
        return files

    def _usable(self, files: dict[str, list[Path]], log) -> dict[str, list[Path]]:
        """The files that decode and last MIN_EFFECT_SECONDS once trimmed; the others are logged."""
        short: list[Path] = []
        usable: dict[str, list[Path]] = {}
        for cls, paths in files.items():
            usable[cls] = []
            for p in paths:
                try:
                    long_enough = len(self._load(p)) >= MIN_EFFECT_SECONDS * SAMPLE_RATE
                except MediaError as exc:
                    log(f"skipping {exc}")
                    continue
                (usable[cls] if long_enough else short).append(p)
        if short:
            log(f"skipping {len(short)} recording(s) shorter than {MIN_EFFECT_SECONDS} s after trimming "
                f"silence (a sample would be labelled 'no effect'): " + ", ".join(p.name for p in short[:5])
                + (" ..." if len(short) > 5 else ""))
        return usable

    @staticmethod
    def _held_out(paths: list[Path]) -> list[Path]:
        order = sorted(paths, key=lambda p: hashlib.sha256(p.name.encode()).hexdigest())
        return order[: max(1, round(len(order) / 3))]

    def draw(self, cls: str, rng, held_out: bool = False) -> np.ndarray:
        pool = (self.held if held_out else self.train)[cls]
        path = pool[rng.integers(len(pool))]
        wave = self._load(path)
        length = max(int(rng.uniform(0.3, 3.0) * SAMPLE_RATE), int(MIN_EFFECT_SECONDS * SAMPLE_RATE))
        return sa.normalise(sa._fade(wave[:length].copy(), SAMPLE_RATE, 0.002, 0.05))

    def recordings(self) -> dict:
        """{class: {"train": [names], "held_out": [names]}} for dataset.json."""
        return {c: {"train": [str(p) for p in self.train[c]], "held_out": [str(p) for p in self.held[c]]}
                for c in self.classes}

    def _load(self, path: Path) -> np.ndarray:
        if path not in self._decoded:
            wave = decode_audio(path, SAMPLE_RATE)
            loud = np.flatnonzero(np.abs(wave) > 0.02 * (np.abs(wave).max() + 1e-12))
            if not loud.size:
                raise MediaError(f"{path}: silent sound effect")
            self._decoded[path] = wave[loud[0]:]  # the effect starts at its onset
        return self._decoded[path]


def recorded_speech(folder, rng, log=print) -> list[np.ndarray]:
    """The presenter's utterances from a folder of recorded speech (any audio files, searched
    recursively): up to MAX_UTTERANCES files of at least MIN_UTTERANCE_SECONDS, drawn by `rng`,
    decoded mono at SAMPLE_RATE. Unreadable, silent and short files are skipped and counted."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"{folder}: speech folder does not exist")
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in SOUND_SUFFIXES)
    out: list[np.ndarray] = []
    short = f"shorter than {MIN_UTTERANCE_SECONDS:g} s"
    skipped = {"unreadable": 0, "silent": 0, short: 0}
    for i in rng.permutation(len(files)):
        if len(out) == MAX_UTTERANCES:
            break
        try:
            wave = decode_audio(files[i], SAMPLE_RATE)
        except MediaError as exc:
            log(f"speech: skipping {exc}")
            skipped["unreadable"] += 1
            continue
        if not np.abs(wave).max() > 0:
            skipped["silent"] += 1
        elif len(wave) < MIN_UTTERANCE_SECONDS * SAMPLE_RATE:
            skipped[short] += 1
        else:
            out.append(wave)
    if not out:
        raise DatasetError(f"{folder}: no recorded utterance of at least {MIN_UTTERANCE_SECONDS:g} s among "
                           f"{len(files)} audio file(s) ({listed(SOUND_SUFFIXES)})")
    left_out = ", ".join(f"{n} {why}" for why, n in skipped.items() if n)
    log(f"speech: {len(out)} recorded utterances from {folder} ({len(files)} audio files"
        + (f"; skipped {left_out})" if left_out else ")"))
    return out


def sfx_class(path: Path, root: Path) -> str:
    rel = path.relative_to(root)
    if len(rel.parts) > 1:
        return rel.parts[0]
    stem = path.stem
    for sep in ("_", "-", " "):
        if sep in stem:
            parts = [p for p in stem.split(sep) if p]
            # a leading number (00_ship_horn) is an index, not a class
            while len(parts) > 1 and parts[0].isdigit():
                parts = parts[1:]
            return parts[0].lower()
    return stem.lower()
