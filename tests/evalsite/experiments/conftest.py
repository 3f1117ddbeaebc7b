"""Real media files and a small rated experiment, shared by the experiments tests."""

import subprocess
from datetime import timedelta

import imageio_ffmpeg
import pytest
from django.core.files.base import ContentFile
from django.utils import timezone


def ffmpeg(*args):
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-y", *args], check=True)


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory):
    """Tiny real files: two 7 s clips with sound (one clip is 6.4 s), one silent clip, two sounds,
    and three bad files."""
    root = tmp_path_factory.mktemp("media")
    for name, freq in (("alpha", 440), ("beta", 660)):
        ffmpeg(
            "-f", "lavfi", "-i", "testsrc=size=64x48:rate=5:duration=7",
            "-f", "lavfi", "-i", f"sine=frequency={freq}:sample_rate=16000:duration=7",
            "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(root / f"{name}.mp4"),
        )  # fmt: skip
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x48:rate=5:duration=7", "-c:v", "libx264",
           "-pix_fmt", "yuv420p", str(root / "silent.mp4"))  # fmt: skip
    for name, freq in (("bang", 300), ("whoosh", 900)):
        ffmpeg(
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency={freq}:sample_rate=16000:duration=0.6",
            str(root / f"{name}.wav"),
        )
    (root / "garbage.mp4").write_bytes(b"this is not a video at all" * 10)
    (root / "garbage.wav").write_bytes(b"RIFF....WAVEfmt nonsense")
    (root / "empty.mp4").write_bytes(b"")
    return root


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media-root"
    return settings.MEDIA_ROOT


@pytest.fixture
def staff(client, researcher):
    """A test client logged in as the researcher."""
    client.force_login(researcher)
    return client


@pytest.fixture
def make_experiment(media_dir):
    """An experiment with built stimuli for every video x method, plus one gold and one trap clip."""
    from evalsite.experiments.models import Experiment, Method, Sound, SoundLibrary, Stimulus, Video
    from evalsite.experiments.provenance import settings_of

    def make(methods=("proposed", "random", "original"), videos=2, slug="study", built=True, **fields):
        library = SoundLibrary.objects.create(name=f"lib-{slug}")
        sound = Sound.objects.create(library=library, name="bang", file=_file(media_dir / "bang.wav"))
        experiment = Experiment.objects.create(
            title=f"Study {slug}", slug=slug, sound_library=library, training_clips=0, **fields
        )
        for order, label in enumerate(methods):
            kind = label if label in ("random", "original") else "model"
            model = _trained_model(label) if kind == "model" else None
            Method.objects.create(
                experiment=experiment, kind=kind, label=label, order=order, trained_model=model
            )
        for i in range(videos):
            video = Video.objects.create(
                name=f"clip{i}", file=_file(media_dir / "alpha.mp4"), sha256=f"{slug}{i}".ljust(64, "0"),
                duration=7.0, width=64, height=48, has_audio=True,
            )
            experiment.videos.add(video)
            for method in experiment.methods.all():
                Stimulus.objects.create(
                    experiment=experiment, video=video, method=method, sound=sound, rank=1, distance=0.5,
                    **_built(built, media_dir),
                )  # fmt: skip
        video = experiment.videos.first()
        for role, expected in (("gold", 2), ("trap", 4)):
            Stimulus.objects.create(
                experiment=experiment, video=video, role=role, expected_score=expected, sound=sound,
                **_built(built, media_dir),
            )  # fmt: skip
        for stimulus in experiment.stimuli.filter(status="done"):  # built from the settings as they are
            stimulus.built_from = settings_of(stimulus)
            stimulus.save(update_fields=["built_from"])
        return experiment

    return make


def _built(built, media_dir):
    return {"status": "done", "file": _file(media_dir / "beta.mp4")} if built else {"status": "pending"}


def _file(path):
    return ContentFile(path.read_bytes(), name=path.name)


def _trained_model(label):
    from retrieval.models import TrainedModel

    return TrainedModel.objects.get_or_create(
        name=label,
        defaults={"variant": "proposed", "checkpoint": f"/models/{label}.pt", "checkpoint_sha256": "ab" * 32},
    )[0]


@pytest.fixture
def rate():
    """Adds a participant who rates: rate(experiment, {label_or_role: [scores per video]}, **participant)."""
    from evalsite.rating.models import Assignment, Participant, Rating

    def add(experiment, scores, played=True, **participant):
        participant.setdefault("audio_check_passed", True)
        p = Participant.objects.create(experiment=experiment, **participant)
        position = 0
        now = timezone.now()
        for key, values in scores.items():
            stimuli = (
                experiment.stimuli.filter(role=key)
                if key in ("gold", "trap")
                else experiment.stimuli.filter(role="test", method__label=key)
            )
            for stimulus, score in zip(stimuli.order_by("video__name"), values, strict=False):
                a = Assignment.objects.create(
                    participant=p, stimulus=stimulus, position=position, shown_at=now - timedelta(seconds=20),
                    played_to_end_at=now - timedelta(seconds=5) if played else None, play_count=1,
                )  # fmt: skip
                Rating.objects.create(assignment=a, score=score, played_to_end=played, time_on_page_ms=15000)
                position += 1
        return p

    return add
