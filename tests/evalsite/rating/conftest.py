"""A small study with real clip files, and a helper that walks a participant through its steps."""

import shutil
import subprocess
from pathlib import Path

import imageio_ffmpeg
import pytest
from django.core.files.storage import default_storage
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import reverse

from evalsite.experiments.models import Experiment, Method, Stimulus, Video
from evalsite.rating import session
from evalsite.rating.models import Participant


def make_clip(path: Path, seconds: float = 1.2, colour: str = "red", freq: int = 440) -> Path:
    """A tiny H.264/AAC MP4 that every browser can play."""
    cmd = [
        imageio_ffmpeg.get_ffmpeg_exe(),
        "-hide_banner",
        "-loglevel",
        "error",
        "-y",
        "-f",
        "lavfi",
        "-i",
        f"color=c={colour}:s=160x90:r=15:d={seconds}",
        "-f",
        "lavfi",
        "-i",
        f"sine=frequency={freq}:sample_rate=44100:duration={seconds}",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        "-profile:v",
        "baseline",
        "-c:a",
        "aac",
        "-b:a",
        "64k",
        "-shortest",
        "-movflags",
        "+faststart",
        "-map_metadata",
        "-1",
        str(path),
    ]
    subprocess.run(cmd, check=True, capture_output=True, timeout=60)
    return path


@pytest.fixture(scope="session")
def clip_file(tmp_path_factory):
    return make_clip(tmp_path_factory.mktemp("clips") / "clip.mp4")


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MEDIA_ROOT.mkdir()
    return settings.MEDIA_ROOT


@pytest.fixture
def make_study(db, media_root, clip_file):
    """make_study(videos=2, methods=("random", "original"), gold=1, trap=1, training=1, **fields)."""

    def make(videos=2, methods=("random", "original"), gold=1, trap=1, training=1, slug="study", **fields):
        stored = f"stimuli/{slug}.mp4"
        if not default_storage.exists(stored):
            (media_root / "stimuli").mkdir(exist_ok=True)
            shutil.copy(clip_file, media_root / stored)
        fields = {
            "status": Experiment.Status.OPEN,
            "gold_clips": gold,
            "trap_clips": trap,
            "training_clips": training,
            "completion_code": "C0DE-42",
            **fields,
        }
        experiment = Experiment.objects.create(title=f"Study {slug}", slug=slug, **fields)
        method_rows = [
            Method.objects.create(experiment=experiment, kind=kind, label=f"{kind}-label", order=i)
            for i, kind in enumerate(methods)
        ]
        video_rows = [Video.objects.create(name=f"video {i}", file=f"videos/v{i}.mp4") for i in range(videos)]
        experiment.videos.set(video_rows)

        def stimulus(video, role, method=None, **extra):
            return Stimulus.objects.create(
                experiment=experiment,
                video=video,
                method=method,
                role=role,
                status=Stimulus.Status.DONE,
                file=stored,
                **extra,
            )

        for video in video_rows:
            for method in method_rows:
                stimulus(video, Stimulus.Role.TEST, method)
        for i in range(gold):
            stimulus(video_rows[i % videos], Stimulus.Role.GOLD, expected_score=2)
        for i in range(trap):
            stimulus(video_rows[i % videos], Stimulus.Role.TRAP, expected_score=3)
        for i in range(training):
            kind = Stimulus.ControlKind.values[i % len(Stimulus.ControlKind.values)]
            stimulus(video_rows[i % videos], Stimulus.Role.TRAINING, control_kind=kind)
        return experiment

    return make


def cookie_token(client, slug) -> str | None:
    """The participant token a test client's browser holds for a study (None when it holds none)."""
    request = HttpRequest()
    request.COOKIES = {key: morsel.value for key, morsel in client.cookies.items()}
    return session.cookie_token(request, slug)


def signed_cookie(slug, token) -> str:
    """A cookie value that this site signed, holding `token`."""
    response = HttpResponse()
    session.set_participant_cookie(response, slug, token)
    return response.cookies[session.cookie_name(slug)].value


def headphone_answers(key: str, right: int) -> dict:
    """A headphone check form with the first `right` trials right and the rest on the antiphase
    tone, the tone a listener on loudspeakers hears as quietest."""
    orders = [key[i : i + 3] for i in range(0, len(key), 3)]
    return {
        f"trial_{n}": order.index("Q" if n <= right else "A") + 1 for n, order in enumerate(orders, start=1)
    }


class Walk:
    """Takes a test client through the participant's steps, the way a browser would."""

    def __init__(self, client, experiment):
        self.client = client
        self.experiment = experiment
        self.slug = experiment.slug

    def url(self, name, **query):
        url = reverse(f"rating:{name}", args=[self.slug])
        return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")

    @property
    def participant(self) -> Participant:
        return Participant.objects.get(token=cookie_token(self.client, self.slug))

    def consent(self, **query):
        response = self.client.post(self.url("entry", **query), {"consent": "on"})
        assert response.status_code == 302, response.content.decode()[:500]
        return self.participant

    def audio_check(self):
        self.client.get(self.url("audio_check"))
        digits = self.participant.audio_check_digits
        response = self.client.post(self.url("audio_check"), {"answer": digits})
        assert response.status_code == 302
        return response

    def headphone_check(self, right=6):
        """Answers the headphone check with `right` trials right (the others pick the antiphase tone)."""
        self.client.get(self.url("headphone_check"))
        key = self.participant.headphone_check_key
        answers = headphone_answers(key, right)
        response = self.client.post(self.url("headphone_check"), answers)
        assert response.status_code == 302, response.content.decode()[:500]
        return response

    def training(self):
        response = self.client.post(self.url("training"))
        assert response.status_code == 302

    def to_rating(self, **query):
        participant = self.consent(**query)
        self.audio_check()
        self.training()
        return participant

    def current(self):
        return self.participant.assignments.filter(rating__isnull=True).order_by("position").first()

    def start(self, assignment):
        """What the page does when playback begins: fetch the clip, tell the server it started."""
        media = self.client.get(reverse("rating:clip", args=[assignment.stimulus.token]))
        assert media.status_code == 200
        b"".join(media.streaming_content)
        return self.client.post(self.url("started"), {"clip": str(assignment.stimulus.token)})

    def played(self, assignment):
        return self.client.post(self.url("played"), {"clip": str(assignment.stimulus.token)})

    def rate(self, assignment, score, play=True):
        if play:
            self.start(assignment)
            self.played(assignment)
        return self.client.post(self.url("rate"), {"clip": str(assignment.stimulus.token), "score": score})


@pytest.fixture
def walk(client):
    return lambda experiment, c=None: Walk(c or client, experiment)


@pytest.fixture
def rivals(make_study, walk):
    """Two participants of a balanced study, both at their first clip, and an assignment of the
    second whose stimulus the first does not have (each sees a video with another method)."""
    rater = walk(make_study(design=Experiment.Design.BALANCED, slug="balanced"))
    rater.to_rating()
    other = walk(rater.experiment, Client())
    other.to_rating()
    mine = set(rater.participant.assignments.values_list("stimulus", flat=True))
    return rater, other, other.participant.assignments.exclude(stimulus__in=mine).first()
