"""CUDA against CPU on tiny fixed inputs: the code paths only a GPU takes give the CPU's results.

Marked `gpu` and skipped where CUDA is not available; bench/gpu.py (the GPU check) runs them on a
GPU machine. They import no Django, so they run there without the site's requirements.
"""

import os
import subprocess
import sys
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from retrieval.config import default_config
from retrieval.epochs import train_one_epoch
from retrieval.inference import RetrievalModel, build_net, init_checkpoint
from retrieval.inputs import TrainSplit, in_order, load_batches, video_input
from retrieval.losses import CrossModalLoss
from retrieval.presets import get_preset
from workers.search import ExactIndex

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available here"),
]

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def full_precision():
    """TF32 off, so that CUDA and CPU differ by float32 rounding alone."""
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def inputs(preset, n=3, seed=0):
    rng = np.random.default_rng(seed)
    frames = rng.integers(0, 256, (n, preset.frames, preset.size, preset.size, 3), dtype=np.uint8)
    t = np.arange(preset.samples) / preset.sample_rate
    waves = np.stack([0.3 * np.sin(2 * np.pi * (220 + 110 * i) * t) for i in range(n)]).astype(np.float32)
    return frames, waves


def cosine(a, b):
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


@pytest.mark.parametrize("preset", ["demo", "paper"])
def test_it_embeds_videos_and_sounds_on_cuda_as_on_cpu(tmp_path, preset):
    path = init_checkpoint(tmp_path / "model.pt", "proposed", preset)
    frames, waves = inputs(get_preset(preset))
    cpu = RetrievalModel.from_checkpoint(path, device="cpu")
    cuda = RetrievalModel.from_checkpoint(path, device="cuda")
    for embed, x in ((RetrievalModel.embed_videos, frames), (RetrievalModel.embed_sounds, waves)):
        a, b = embed(cpu, x), embed(cuda, x)
        with full_precision():
            exact = embed(cuda, x)
        worst, similar = np.abs(exact - a).max(), cosine(a, b).min()
        # float32 rounding alone; the paper preset's 2048-point FFTs (cuFFT against pocketFFT) give
        # up to 2.8e-3 on the H200, in embeddings standardised to unit variance
        assert worst < 1e-2, f"{embed.__name__}: CUDA differs from CPU by up to {worst:.2e} without TF32"
        assert similar > 0.999, f"{embed.__name__}: cosine similarity {similar:.5f} with TF32"


def test_a_training_epoch_on_cuda_gives_the_cpu_gradients_and_losses():
    config = default_config("proposed", "demo", batch_size=4, epochs=2)
    config = replace(config, model=replace(config.model, trunk_layers=3, trainable_layers=1))
    preset = get_preset("demo")
    frames, waves = inputs(preset, n=8)
    spectrograms = RetrievalModel(build_net(config, preset), preset, config, "", "cpu").spectrograms(waves)
    split = TrainSplit(frames, spectrograms.numpy(), np.arange(8) % 2 == 0, video_is_frames=True)
    torch.manual_seed(0)
    start = {k: v.clone() for k, v in build_net(config, preset).trainable_state_dict().items()}
    with full_precision():
        cpu, cuda = (gradients(config, preset, start, split, device) for device in ("cpu", "cuda"))
    # A bias under a BatchNorm without affine (the embeddings' standardisation, the audio CNN's
    # blocks) has no gradient but rounding noise: RMS below 3e-4 where the others' are above
    # 1.6e-2 (median 0.13). The others point the same way on both devices.
    typical = float(np.median([g.norm() / g.numel() ** 0.5 for g in cpu.values()]))
    noise = {k for k, g in cpu.items() if g.norm() / g.numel() ** 0.5 < 1e-2 * typical}
    assert noise and all(key.endswith(".bias") for key in noise), sorted(noise)
    for key in cpu.keys() - noise:
        a, b = cpu[key].flatten(), cuda[key].flatten()
        similarity = float(a @ b / a.norm() / b.norm())
        assert similarity > 0.999, f"{key}: gradients' cosine similarity {similarity:.5f}"

    losses = {}
    for device in ("cpu", "cuda"):
        net = build_net(config, preset)
        net.load_state_dict(start, strict=False)
        net.to(device)
        optimizer = torch.optim.Adam([p for p in net.parameters() if p.requires_grad], lr=config.lr)
        criterion = CrossModalLoss(generator=torch.Generator().manual_seed(0))
        with full_precision():
            record = train_one_epoch(
                net, net, split, optimizer, criterion, config, 1, torch.device(device), progress=False
            )
        losses[device] = record["loss"]
    assert losses["cuda"] == pytest.approx(losses["cpu"], rel=1e-3)


def gradients(config, preset, start, split, device) -> dict[str, torch.Tensor]:
    """The gradient of each trained tensor for the first batch, on `device` (returned on CPU)."""
    net = build_net(config, preset)
    net.load_state_dict(start, strict=False)
    net.to(device).train()
    video, spec, labels = next(load_batches(split, in_order(len(split), config.batch_size), device))
    out = net(video_input(net, split, video), spec)
    loss, _ = CrossModalLoss(generator=torch.Generator().manual_seed(0))(out, labels, 1.0, {})
    loss.backward()
    return {k: p.grad.detach().cpu() for k, p in net.named_parameters() if p.grad is not None}


def test_pinned_batches_from_loader_workers_reach_cuda_unchanged():
    rng = np.random.default_rng(0)
    split = TrainSplit(
        rng.integers(0, 256, (10, 4, 8, 8, 3), dtype=np.uint8),
        rng.normal(size=(10, 5, 6)).astype(np.float32),
        np.arange(10) % 2 == 0,
        True,
    )
    order = in_order(len(split), 3)
    here = list(load_batches(split, order, "cpu"))
    there = list(load_batches(split, order, "cuda", workers=2))
    assert len(here) == len(there) == 4
    for a, b in zip(here, there, strict=True):
        assert all(y.device.type == "cuda" and torch.equal(x, y.cpu()) for x, y in zip(a, b, strict=True))


def test_exact_search_on_cuda_finds_the_cpu_neighbours():
    rng = np.random.default_rng(0)
    library = rng.normal(size=(70_000, 64)).astype(np.float32)  # more rows than one block
    queries = rng.normal(size=(40, 64)).astype(np.float32)
    cpu_i, cpu_d = ExactIndex(library, "cpu").search(queries, 5)
    cuda_i, cuda_d = ExactIndex(library, "cuda").search(queries, 5)
    clear = cpu_d[:, 1] - cpu_d[:, 0] > 1e-3  # no near tie for the first place
    assert clear.sum() > 30
    assert (cuda_i[clear, 0] == cpu_i[clear, 0]).all()
    assert np.allclose(cuda_d, cpu_d, atol=1e-3)


CHILD = """
import multiprocessing, sys
import numpy as np, torch
from workers import model_cache

def embed(path, queue):
    model = model_cache.get_model(path, device="cuda")
    queue.put((str(model.device), model.embed_sounds(np.zeros((1, model.preset.samples), np.float32)).shape))

if __name__ == "__main__":
    context = multiprocessing.get_context("fork")  # as a prefork pool makes its children
    queue = context.Queue()
    child = context.Process(target=embed, args=(sys.argv[1], queue))
    child.start()
    device, shape = queue.get(timeout=300)
    child.join()
    print(device, shape, "parent-cuda-initialised" if torch.cuda.is_initialized() else "parent-untouched")
    sys.exit(child.exitcode)
"""


def test_the_model_cache_loads_on_cuda_in_a_forked_child_and_leaves_the_parent_untouched(tmp_path):
    path = init_checkpoint(tmp_path / "model.pt", "proposed", "demo")
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    done = subprocess.run(
        [sys.executable, str(script), str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["cuda", "(1,", "64)", "parent-untouched"]
