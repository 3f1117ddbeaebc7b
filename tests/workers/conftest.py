"""Fixtures for the worker tests: real media files, media rows, a real (untrained) checkpoint."""

from pathlib import Path

import numpy as np
import pytest
import torch

from tests.workers.media import chirp, make_video, make_wav


@pytest.fixture(autouse=True)
def _one_thread():
    # Two shared cores: keep torch from spreading over both in every test process.
    torch.set_num_threads(1)


@pytest.fixture
def media_root(settings, tmp_path):
    root = tmp_path / "media"
    root.mkdir()
    settings.MEDIA_ROOT = str(root)
    settings.EMBEDDINGS_DIR = tmp_path / "embeddings"
    return root


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory) -> Path:
    from retrieval.inference import init_checkpoint

    torch.set_num_threads(1)
    return init_checkpoint(tmp_path_factory.mktemp("ckpt") / "proposed.pt", variant="proposed", preset="demo")


def video_row(root: Path, name: str, **kwargs):
    from evalsite.experiments.models import Video

    (root / "videos").mkdir(exist_ok=True)
    path = make_video(root / "videos" / f"{name}.mp4", **{"seconds": 7.0, "fps": 10, **kwargs})
    return Video.objects.create(
        name=name,
        file=f"videos/{name}.mp4",
        duration=7.0,
        has_audio=kwargs.get("tone_hz", 1) is not None,
        sha256=name,
    ), path


def library(root: Path, n: int = 4, name: str = "lib"):
    from evalsite.experiments.models import Sound, SoundLibrary

    lib = SoundLibrary.objects.create(name=name)
    (root / "sounds").mkdir(exist_ok=True)
    for i in range(n):
        make_wav(
            root / "sounds" / f"s{i}.wav", chirp(0.8 + 0.2 * i, f0=200 + 300 * i, seed=i), lead_silence=0.1
        )
        Sound.objects.create(library=lib, name=f"s{i}", file=f"sounds/s{i}.wav", sha256=f"sha-s{i}")
    return lib


def experiment(videos, lib, methods=("random", "original"), trained=None, **fields):
    from evalsite.experiments.models import Experiment, Method

    exp = Experiment.objects.create(
        title="Exp", slug=f"exp-{np.random.randint(1e9)}", sound_library=lib,
        **{"gold_clips": 0, "trap_clips": 0, "training_clips": 0, **fields},
    )  # fmt: skip
    exp.videos.set(videos)
    for i, kind in enumerate(methods):
        Method.objects.create(
            experiment=exp,
            kind=kind,
            label=kind.title(),
            order=i,
            trained_model=trained if kind == "model" else None,
        )
    return exp


def trained_model(checkpoint: Path, name="proposed"):
    from retrieval.inference import file_sha256
    from retrieval.models import TrainedModel

    return TrainedModel.objects.create(
        name=name, variant="proposed", checkpoint=str(checkpoint), checkpoint_sha256=file_sha256(checkpoint)
    )
