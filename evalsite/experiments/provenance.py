"""What a stimulus is built from: the settings that decide its file, recorded when it is built.

`settings_of(stimulus)` names, for one clip, exactly the inputs that change its picture or its
sound: the video's content and known effect onset; the mux settings its soundtrack uses; for a
trained model the checkpoint, the hubness option and the sound library's content (and, under a
study option that chooses all videos' sounds together, the study's videos); for Random the
seed, what the draw is keyed by and the library; for gold noise the seed; for a trap its score.
A built clip whose record differs from `settings_of` now is stale, and `stale` says what
changed, so the next build redoes exactly those and a study holding one does not open.
"""

import hashlib
import math
import time
from collections.abc import Iterable

from retrieval.hubness import LIBRARY_OPTIONS

from .models import Experiment, ImportedOutput, Method, SoundLibrary, Stimulus

# Fingerprints read recently, per library: a library of a million sounds takes a second or two
# to read, too much for every clip of a build. A reused fingerprint can only be older than the
# library, so a clip it is recorded for is at worst found stale and rebuilt, never wrongly fresh.
_recent: dict[tuple, tuple[float, str]] = {}
REUSE_S = 30.0


def library_fingerprint(library: SoundLibrary | None, max_age: float = 0.0) -> str | None:
    """The library's content: its sounds' hashes in the order draws and searches see them;
    one read within `max_age` seconds is reused."""
    if library is None:
        return None
    key, now = (library.pk, library.created_at), time.monotonic()
    read_at, known = _recent.get(key, (-math.inf, ""))
    if now - read_at <= max_age:
        return known
    digest = hashlib.sha256()
    for pk, sha, name in library.sounds.order_by("pk").values_list("pk", "sha256", "name"):
        digest.update(f"{sha or f'{pk}:{name}'}\n".encode())
    _recent[key] = (now, f"{library.name}:{digest.hexdigest()[:16]}")
    return _recent[key][1]


def kind_of(stimulus: Stimulus) -> str:
    """model / random / original for a method's clip or a training clip; gold / trap otherwise."""
    if stimulus.role in (Stimulus.Role.GOLD, Stimulus.Role.TRAP):
        return stimulus.role
    if stimulus.method is not None:
        return stimulus.method.kind
    return stimulus.control_kind


def draw_key(stimulus: Stimulus) -> str:
    """What a Random draw is keyed by besides the seed and the video (workers.stimuli.random_sound)."""
    return stimulus.method.label if stimulus.method else f"{stimulus.role}:{stimulus.label}"


def settings_of(stimulus: Stimulus, library: str | None = "unset", study: str | None = "unset") -> dict:
    """The settings that decide this clip now; `library` and `study` are the experiment's
    library_fingerprint and study_fingerprint when the caller computed them once for many clips."""
    experiment, video = stimulus.experiment, stimulus.video
    kind = kind_of(stimulus)
    out: dict = {"video": video.sha256 or f"id:{video.pk}", "kind": kind}
    if kind == "gold":
        return {**out, "seed": experiment.seed, "loudness_lufs": experiment.loudness_lufs}
    if kind == "trap":
        return {**out, "expected_score": stimulus.expected_score, "loudness_lufs": experiment.loudness_lufs}
    if kind == Method.Kind.ORIGINAL:  # the video's own soundtrack: only the loudness applies
        return {**out, "loudness_lufs": experiment.loudness_lufs}
    out["mux"] = mux_settings(experiment)
    out["effect_onset"] = video.effect_onset
    if kind == Method.Kind.IMPORTED:  # the imported file (or CSV) and the sound it names
        return {**out, "imported": imported_output(stimulus)}
    if library == "unset":  # one clip of a build: a recent read will do (see _recent)
        library = library_fingerprint(experiment.sound_library, max_age=REUSE_S)
    out["sound_library"] = library
    if kind == Method.Kind.RANDOM:
        return {**out, "seed": experiment.seed, "draw": draw_key(stimulus)}
    return {**out, **retrieval_settings(stimulus.method, out["sound_library"], study)}


def imported_output(stimulus: Stimulus) -> str | None:
    row = ImportedOutput.objects.filter(method=stimulus.method, video=stimulus.video)
    found = row.values_list("sha256", "sound__sha256").first()
    return ":".join(part for part in found if part) if found else None


def retrieval_settings(method: Method | None, library: str | None, study: str | None = "unset") -> dict:
    """What a model method's retrieval used; recorded with the sound it chose, since the mux of
    the clip may run after the method changed."""
    model = method.trained_model if method else None
    out = {"trained_model": (model.checkpoint_sha256 or model.checkpoint) if model else None,
           "hubness": method.hubness if method else None, "sound_library": library}  # fmt: skip
    if method is not None and method.hubness not in LIBRARY_OPTIONS:
        out["study_videos"] = study_fingerprint(method.experiment) if study == "unset" else study
    return out


def study_fingerprint(experiment: Experiment) -> str:
    """The study's videos, which a study option (csls, assign) chooses sounds for together: a
    video added or removed changes every clip's sound, not only its own."""
    digest = hashlib.sha256()
    for pk, sha in experiment.videos.order_by("pk").values_list("pk", "sha256"):
        digest.update(f"{sha or f'id:{pk}'}\n".encode())
    return digest.hexdigest()[:16]


def as_built(stimulus: Stimulus) -> dict:
    """The record of a clip being built now: its settings, with a model's retrieval as it ran."""
    now = settings_of(stimulus)
    if now["kind"] == Method.Kind.MODEL:
        now |= stimulus.built_from.get("retrieved_with", {})
    return now


def mux_settings(experiment: Experiment) -> dict:
    out = {"mode": experiment.mux_mode, "loudness_lufs": experiment.loudness_lufs}
    if experiment.mux_mode == Experiment.MuxMode.OVERLAY:  # gain and ducking apply to overlays only
        out |= {"gain_db": experiment.overlay_gain_db, "duck_db": experiment.duck_db}
    return out


def changes(recorded: dict, now: dict) -> list[str]:
    """What differs, as 'hubness none → centre'; a clip built before records were kept says so."""
    if not recorded:
        return ["built before clips recorded their settings"]
    out = []
    for key in sorted(set(recorded) | set(now)):
        before, after = recorded.get(key), now.get(key)
        if before != after:
            out.append(f"{key} {_short(before)} → {_short(after)}")
    shared = [c for c in out if c.split()[0] in recorded and c.split()[0] in now]
    return shared or out  # a key that comes or goes with another's change (study_videos) is no news


def _short(value) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items())
    return "none" if value is None else str(value)


def stale(experiment: Experiment, max_age: float = 0.0) -> list[tuple[Stimulus, list[str]]]:
    """Built clips of the experiment's videos whose settings changed since, each with what changed
    (clips of removed videos are `orphans`); `max_age` as for library_fingerprint."""
    library, study = library_fingerprint(experiment.sound_library, max_age), study_fingerprint(experiment)
    built = experiment.stimuli.filter(status=Stimulus.Status.DONE, video__in=experiment.videos.all())
    built = built.select_related(
        "experiment__sound_library", "video", "method__trained_model"
    )
    out = []
    for stimulus in built.order_by("pk"):
        diff = changes(stimulus.built_from, settings_of(stimulus, library, study))
        if diff:
            out.append((stimulus, diff))
    return out


def stale_retrievals(experiment: Experiment) -> list[int]:
    """Unbuilt model clips whose sound was retrieved with settings that changed since."""
    library, study = library_fingerprint(experiment.sound_library), study_fingerprint(experiment)
    waiting = experiment.stimuli.exclude(status=Stimulus.Status.DONE).filter(
        method__kind=Method.Kind.MODEL, sound__isnull=False
    )
    methods = experiment.methods.select_related("trained_model")
    now: dict[int | None, dict] = {m.pk: retrieval_settings(m, library, study) for m in methods}  # per method
    return [s.pk for s in waiting if s.built_from.get("retrieved_with") != now.get(s.method_id)]


def orphans(experiment: Experiment):
    """Clips of videos no longer in the experiment."""
    return experiment.stimuli.exclude(video__in=experiment.videos.all())


def describe(stimulus: Stimulus) -> str:
    what = stimulus.method.label if stimulus.method else stimulus.label or stimulus.role
    return f"{stimulus.video.name} / {what}"


def first_few(items: Iterable[str], shown: int = 5) -> str:
    """The first `shown` items joined by '; ', and how many more there are."""
    items = list(items)
    more = f"; and {len(items) - shown} more" if len(items) > shown else ""
    return "; ".join(items[:shown]) + more
