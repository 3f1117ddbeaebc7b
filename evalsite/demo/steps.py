"""The demo study, one step a function; each step reuses what an earlier run left behind."""

import csv
import secrets
from dataclasses import dataclass
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction

from evalsite.experiments import actions
from evalsite.experiments.models import Experiment, Method, SoundLibrary, Video
from retrieval.models import TrainedModel

VARIANTS = (("proposed", "Proposed"), ("triplet2", "Triplet 2"), ("triplet1", "Triplet 1"))
SLUG = "demo"
LIBRARY = "Demo sound library (test split)"


@dataclass(frozen=True)
class Size:
    days: int
    minutes_per_day: float
    epochs: int | None  # None: the demo preset's own number of epochs
    videos: int


SIZES = {
    "default": Size(days=6, minutes_per_day=4.0, epochs=None, videos=6),
    # For CI and quick checks: the same steps on a smaller dataset with fewer epochs.
    "small": Size(days=3, minutes_per_day=1.5, epochs=4, videos=3),
}


def dataset(root: Path, size: Size, seed: int, out) -> Path:
    from retrieval.data.synth import make_dataset

    path = root / "dataset"
    if (path / "manifest.csv").exists():
        out(f"Dataset: reusing {path}")
        return path
    out(f"Dataset: generating a synthetic TV-like benchmark in {path}")
    return Path(make_dataset(path, days=size.days, minutes_per_day=size.minutes_per_day, seed=seed))


def train_models(data: Path, root: Path, size: Size, seed: int, out) -> list[TrainedModel]:
    models = []
    for variant, label in VARIANTS:
        name = f"demo-{variant}"
        checkpoint = root / "models" / f"{variant}.pt"
        existing = TrainedModel.objects.filter(name=name).first()
        if existing and Path(existing.checkpoint).exists():
            out(f"Model {label}: reusing {existing.checkpoint}")
            models.append(existing)
            continue
        out(f"Model {label}: training the {variant} variant (demo preset)")
        options = dict(data=str(data), variant=variant, out=str(checkpoint), preset="demo", seed=seed,
                       name=name)
        if size.epochs:
            options["epochs"] = size.epochs
        call_command("train", **options)
        models.append(TrainedModel.objects.get(name=name))
    return models


def evaluate(data: Path, models: list[TrainedModel], out) -> None:
    out("Objective evaluation on the test split (the paper's Table 1 and Table 2):")
    call_command("evaluate", *[m.checkpoint for m in models], data=str(data), split="test", random=True)


def import_media(data: Path, out) -> SoundLibrary:
    out("Media: importing the test split's videos and sounds")
    call_command("import_media", library=LIBRARY, dataset=str(data), split="test", verbosity=0)
    return SoundLibrary.objects.get(name=LIBRARY)


def experiment(library: SoundLibrary, models: list[TrainedModel], size: Size, seed: int, out) -> Experiment:
    existing = Experiment.objects.filter(slug=SLUG).first()
    if existing:
        out(f"Experiment: reusing '{existing.title}'")
        return existing
    videos = pick_videos(library, size.videos)
    by_variant = {m.variant: m for m in models}
    with transaction.atomic():
        exp = Experiment.objects.create(
            title="Demo: which sound effect fits the video?",
            slug=SLUG,
            instructions=(
                "You will see short video clips with a sound effect. Rate how well the sound fits "
                "what happens in the video, from 5 (Excellent) to 1 (Bad)."
            ),
            sound_library=library,
            seed=seed,
            completion_code="DEMO-THANKS",
            participants_wanted=10,
        )
        exp.videos.set(videos)
        order = 0
        for variant, label in VARIANTS:
            Method.objects.create(experiment=exp, kind=Method.Kind.MODEL, label=label,
                                  trained_model=by_variant[variant], order=order)
            order += 1
        Method.objects.create(experiment=exp, kind=Method.Kind.RANDOM, label="Random", order=order)
        Method.objects.create(experiment=exp, kind=Method.Kind.ORIGINAL, label="Original", order=order + 1)
    out(f"Experiment: created '{exp.title}' with {len(videos)} videos and 5 methods")
    return exp


GROUND_TRUTH = "Ground truth"


def ground_truth(exp: Experiment, data: Path, out) -> None:
    """An imported method made from the dataset's own answer: for each video, the library sound
    recorded with it (the same dataset clip, so the effect planted in it). It goes in through
    `import_method --choices` like any outside system's top-1, an upper reference for the
    retrieval methods."""
    if exp.methods.filter(label=GROUND_TRUTH).exists() or exp.status != Experiment.Status.DRAFT:
        return
    sounds = dict(exp.sound_library.sounds.values_list("source", "name")) if exp.sound_library else {}
    path = data / "ground_truth.csv"
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["video", "sound"])
        writer.writerows((v.name, sounds.get(v.source, "")) for v in exp.videos.order_by("name"))
    out(f"Method {GROUND_TRUTH}: importing each video's planted sound from {path}")
    call_command("import_method", exp.slug, label=GROUND_TRUTH, choices=str(path))


def pick_videos(library: SoundLibrary, count: int) -> list[Video]:
    """Test clips that hold a visual effect (as in the paper's listening test), one effect class
    after another so that the handful shown covers several classes."""
    classes = dict(library.sounds.values_list("source", "sound_class"))
    candidates = Video.objects.filter(source__in=classes, effect_onset__isnull=False).order_by("name")
    by_class: dict[str, list[Video]] = {}
    for video in candidates:
        by_class.setdefault(classes[video.source], []).append(video)
    picked: list[Video] = []
    while len(picked) < count and any(by_class.values()):
        for group in by_class.values():
            if group and len(picked) < count:
                picked.append(group.pop(0))
    return picked


def build(exp: Experiment, out, timeout: float = 1800) -> dict:
    from workers import build as worker_build

    if exp.status != Experiment.Status.DRAFT:  # opened by an earlier run: its clips are frozen
        out("Stimuli: reusing the clips of the open experiment")
        return worker_build.build_progress(exp)
    problems = worker_build.build_problems(exp)  # the admin's check
    if problems:
        raise CommandError(f"'{exp}' cannot be built: " + "; ".join(problems))
    out(f"Stimuli: building {worker_build.describe_mode(exp.pk)}")
    worker_build.start_build(exp.pk, progress=True)
    return worker_build.wait_for_build(exp, lambda line: out(f"  {line}"), timeout=timeout)


def open_experiment(exp: Experiment, out) -> None:
    exp.refresh_from_db()
    if exp.status == Experiment.Status.OPEN:
        return
    actions.open_experiment(exp)
    out("Experiment: open for participants")


def admin_login(root: Path) -> tuple[str, str]:
    """The demo's admin account; its password is kept beside the demo data for re-runs."""
    User = get_user_model()
    password_file = root / "admin-password.txt"
    user = User.objects.filter(username="admin").first()
    if user and password_file.exists():
        return "admin", password_file.read_text().strip()
    password = secrets.token_urlsafe(12)
    if user is None:
        user = User(username="admin", email="admin@localhost", is_staff=True, is_superuser=True)
    user.set_password(password)
    user.save()
    password_file.write_text(password + "\n")
    password_file.chmod(0o600)
    return "admin", password
