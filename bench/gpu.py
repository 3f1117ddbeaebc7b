"""The GPU check: the code paths only a GPU takes, run and measured in one go.

On a CUDA machine (`--device cuda`, the default where CUDA is present) it
1. prints the device (name, memory, CUDA, cuDNN and torch versions);
2. generates a small dataset (`make_dataset`) and trains `proposed` with the paper preset
   (224x224x32 frames, 48 kHz, three trainable trunk layers) for a few epochs: clips/s per
   training step against the R3D-18 trunk's forward and backward alone at the same batch (the
   limit), peak GPU memory, and each epoch's time split into data, steps, BatchNorm
   recomputation and validation (the epoch records of retrieval.train);
3. runs the same training under `torchrun --nproc_per_node=N` when N > 1 GPUs are there
   (and says so when there is one);
4. embeds a sound library and the test videos through the gpu worker's code path (the model
   cache, chunked embedding, the exact search on the device) for the demo and the paper
   presets: sounds/s and videos/s;
5. runs the tests marked `gpu` (CUDA results against CPU's on tiny fixed inputs).
Every figure goes to `<out>/gpu-check.json` and a table to `<out>/gpu-check.md`.

`--device cpu --tiny` runs the same stages at a tiny size on the CPU (the demo preset with one
trainable trunk layer, so that training still reads frames): what CI runs so that the check
cannot rot between GPU runs. A stage that fails is recorded with its error and the others still
run; the exit status is 1 if any failed.

    .venv/bin/python bench/gpu.py [--device cuda] [--tiny] [--out bench/out/gpu]
    scripts/gpu-check.sh        # the same, with the defaults
"""

import argparse
import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
import time
import traceback
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from retrieval.config import default_config  # noqa: E402
from retrieval.data import load_split  # noqa: E402
from retrieval.data.decode import decode_video  # noqa: E402
from retrieval.data.manifest import read_manifest  # noqa: E402
from retrieval.data.synth import make_dataset  # noqa: E402
from retrieval.features import normalize_frames  # noqa: E402
from retrieval.inference import build_net, init_checkpoint  # noqa: E402
from retrieval.presets import get_preset  # noqa: E402
from retrieval.train import TrainConfig, train  # noqa: E402
from workers import embeddings, model_cache, search  # noqa: E402

# Sizes: (days, minutes per day) of the generated dataset, the training run, the worker stage.
SIZES = {
    "full": {
        "days": 7,
        "minutes_per_day": 4.0,
        "preset": "paper",
        "batch": 64,
        "pretrain_epochs": 1,
        "epochs": 3,
        "library": 1024,
        "chunk": 256,
        "videos": None,
        "limit_steps": 10,
    },
    "tiny": {
        "days": 3,
        "minutes_per_day": 1.0,
        "preset": "demo",
        "batch": 4,
        "pretrain_epochs": 1,
        "epochs": 1,
        "library": 8,
        "chunk": 4,
        "videos": 1,
        "limit_steps": 2,
    },
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--tiny", action="store_true", help="a tiny size (CI on a CPU)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "gpu")
    parser.add_argument("--work", type=Path, help="dataset and checkpoints (<out>/work)")
    parser.add_argument("--keep", action="store_true", help="keep the dataset and checkpoints")
    args = parser.parse_args(argv)
    if args.device != "cpu" and not args.device.split(":")[0] == "cuda":
        parser.error(f"--device {args.device}: the check runs on cpu or cuda (cuda:N for one GPU)")
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error(
            f"--device {args.device}: CUDA is not available here (torch {torch.__version__}); "
            "use --device cpu --tiny"
        )
    for folder in (args.out, args.work or args.out):
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            parser.error(f"{folder}: cannot write the check's files there ({exc.strerror})")
    size = SIZES["tiny" if args.tiny else "full"]
    check = Check(args.out, args.work or args.out / "work", torch.device(args.device), size, args.tiny)
    failed = check.run()
    if not args.keep:
        shutil.rmtree(check.work, ignore_errors=True)
    return 1 if failed else 0


class Check:
    def __init__(self, out: Path, work: Path, device: torch.device, size: dict, tiny: bool):
        self.out, self.work, self.device, self.size, self.tiny = out, work, device, size, tiny
        self.results: dict = {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "size": "tiny" if tiny else "full",
            "stages": {},
        }

    def run(self) -> list[str]:
        shutil.rmtree(self.work, ignore_errors=True)
        self.work.mkdir(parents=True)
        failed = []
        for name, stage in (
            ("device", self.describe_device),
            ("dataset", self.make_data),
            ("train", self.train),
            ("limit", self.trunk_limit),
            ("torchrun", self.torchrun),
            ("workers", self.worker_path),
            ("tests", self.device_tests),
        ):
            started = time.perf_counter()
            print(f"== {name}", flush=True)
            try:
                result = stage()
                status = "ok"
            except Exception as exc:  # a stage's failure is a finding: record it, run the rest
                traceback.print_exc()
                result, status = {"error": f"{type(exc).__name__}: {exc}"}, "failed"
                failed.append(name)
            self.results["stages"][name] = {
                "status": status,
                "seconds": round(time.perf_counter() - started, 1),
                **(result or {}),
            }
            self.write()
        print(self.table(), flush=True)
        return failed

    # --- stages --------------------------------------------------------------------------------

    def describe_device(self) -> dict:
        info = {
            "device": str(self.device),
            "torch": torch.__version__,
            "python": platform.python_version(),
            "cpu_threads": torch.get_num_threads(),
        }
        if self.device.type == "cuda":
            props = torch.cuda.get_device_properties(self.device)
            info.update(
                name=props.name,
                memory_gib=round(props.total_memory / 2**30, 1),
                multiprocessors=props.multi_processor_count,
                cuda=torch.version.cuda,
                cudnn=torch.backends.cudnn.version(),
                gpus=torch.cuda.device_count(),
                tf32_matmul=torch.backends.cuda.matmul.allow_tf32,
                tf32_cudnn=torch.backends.cudnn.allow_tf32,
            )
        else:
            info.update(name=platform.processor() or platform.machine(), gpus=0)
        print(json.dumps(info), flush=True)
        return info

    def make_data(self) -> dict:
        s = self.size
        started = time.perf_counter()
        make_dataset(
            self.work / "data",
            days=s["days"],
            minutes_per_day=s["minutes_per_day"],
            progress=False,
            log=lambda m: None,
        )
        made = time.perf_counter() - started
        rows = read_manifest(self.work / "data")
        splits = {k: sum(r.split == k for r in rows) for k in ("train", "valid", "test")}
        started = time.perf_counter()
        for split in ("train", "valid", "test"):
            load_split(self.work / "data", split, get_preset(s["preset"]), progress=False)
        return {
            "clips": splits,
            "generate_s": round(made, 1),
            "cache_s": round(time.perf_counter() - started, 1),
            "preset": s["preset"],
        }

    def config(self, **overrides) -> TrainConfig:
        s = self.size
        config = default_config(
            "proposed",
            s["preset"],
            epochs=s["epochs"],
            pretrain_epochs=s["pretrain_epochs"],
            batch_size=s["batch"],
            **overrides,
        )
        if self.tiny:  # the demo preset freezes the whole trunk: train one layer, so frames are read
            config = replace(config, model=replace(config.model, trunk_layers=3, trainable_layers=1))
        return config

    def train(self) -> dict:
        config = self.config()
        out = self.work / "proposed.pt"
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        started = time.perf_counter()
        summary = train(
            config,
            self.work / "data",
            out,
            device=str(self.device),
            resume=False,
            progress=False,
            log=lambda m: print(m, flush=True),
        )
        wall = time.perf_counter() - started
        history = torch.load(out, weights_only=False)["history"]
        joint = [r for r in history if r["stage"] == "joint"]
        last = joint[-1]
        result = {
            "preset": config.preset,
            "batch": config.batch_size,
            "trainable_trunk_layers": config.model.trainable_layers,
            "wall_s": round(wall, 1),
            "epochs": history,
            "best_valid_acc_rank": summary["best"]["acc_rank"],
            "step_clips_per_s": round(last["steps"] * config.batch_size / last["step_s"], 1),
            "epoch_clips_per_s": round(last["steps"] * config.batch_size / last["time"], 1),
        }
        if self.device.type == "cuda":
            result["peak_memory_gib"] = round(torch.cuda.max_memory_allocated(self.device) / 2**30, 2)
        return result

    def trunk_limit(self) -> dict:
        """The R3D-18 trunk as the model configures it (its frozen and trained layers), forward and
        backward alone on random frames at the training batch: what a training step cannot beat."""
        config = self.config()
        preset = get_preset(config.preset)
        net = build_net(config, preset).to(self.device).train()
        frames = torch.randint(
            0,
            256,
            (config.batch_size, preset.frames, preset.size, preset.size, 3),
            dtype=torch.uint8,
            device=self.device,
        )
        trained = [p for p in net.video.trainable.parameters() if p.requires_grad]

        def step():
            out = net.video.trainable(net.video.features(normalize_frames(frames)))
            grads = torch.autograd.grad(out.float().square().mean(), trained)
            return float(sum(g.sum() for g in grads))  # waits for the device

        step()  # warm-up (cuDNN picks its algorithms)
        started = time.perf_counter()
        for _ in range(self.size["limit_steps"]):
            step()
        per_step = (time.perf_counter() - started) / self.size["limit_steps"]
        result = {
            "batch": config.batch_size,
            "step_s": round(per_step, 4),
            "clips_per_s": round(config.batch_size / per_step, 1),
        }
        trained_run = self.results["stages"].get("train", {})
        if "step_clips_per_s" in trained_run:
            result["training_step_share_of_limit"] = round(
                trained_run["step_clips_per_s"] / result["clips_per_s"], 3
            )
        return result

    def torchrun(self) -> dict:
        gpus = torch.cuda.device_count() if self.device.type == "cuda" else 0
        if gpus < 2:
            return {
                "ran": False,
                "why": f"{gpus} GPU(s): torchrun needs 2 or more (NCCL takes one GPU a rank)",
            }
        out = self.work / "proposed-ddp.pt"
        command = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            f"--nproc_per_node={gpus}",
            __file__,
            "--ddp-train",
            str(self.work / "data"),
            str(out),
            self.size["preset"],
        ]
        started = time.perf_counter()
        subprocess.run(command, check=True, cwd=ROOT)
        wall = time.perf_counter() - started
        history = torch.load(out, weights_only=False)["history"]
        last = [r for r in history if r["stage"] == "joint"][-1]
        clips = last["steps"] * self.size["batch"] * gpus  # each rank steps through its own batch
        return {
            "ran": True,
            "gpus": gpus,
            "wall_s": round(wall, 1),
            "epochs": history,
            "step_clips_per_s": round(clips / last["step_s"], 1),
        }

    def worker_path(self) -> dict:
        """The gpu queue's work on the device: checkpoint through the model cache, the library
        embedded in chunks and assembled, the test videos embedded, the exact search."""
        rows = read_manifest(self.work / "data")
        data = self.work / "data"
        sounds = [data / r.audio for r in rows]
        items = [
            embeddings.SoundItem(i, sounds[i % len(sounds)], f"{i}") for i in range(self.size["library"])
        ]
        videos = [data / r.video for r in rows if r.split == "test"][: self.size["videos"]]
        results = {}
        for preset in ("demo", "paper"):
            checkpoint = self.work / f"{preset}-model.pt"
            trained = self.work / "proposed.pt"
            if preset == self.size["preset"] and trained.exists():
                shutil.copy(trained, checkpoint)
            else:
                init_checkpoint(checkpoint, "proposed", preset)
            results[preset] = self.embed_and_search(checkpoint, items, videos)
        return results

    def embed_and_search(self, checkpoint: Path, items: list, videos: list[Path]) -> dict:
        started = time.perf_counter()
        model = model_cache.get_model(checkpoint, device=str(self.device))
        load_s = time.perf_counter() - started
        cache = self.work / f"embeddings-{checkpoint.stem}"
        chunk = self.size["chunk"]
        started = time.perf_counter()
        files = [
            embeddings.embed_chunk(model, items[i : i + chunk], cache) for i in range(0, len(items), chunk)
        ]
        library = embeddings.assemble(files, cache / "library.npz")
        embed_s = time.perf_counter() - started
        started = time.perf_counter()
        frames = np.stack([decode_video(v, model.preset) for v in videos])
        decode_s = time.perf_counter() - started
        model.embed_videos(frames[:1])  # warm-up
        started = time.perf_counter()
        queries = model.embed_videos(frames)
        video_s = time.perf_counter() - started
        started = time.perf_counter()
        index = search.build_index(library.vectors, approximate_from=0, device=self.device)
        found, _ = index.search(queries, 1)
        search_s = time.perf_counter() - started
        return {
            "sounds": len(library.ids),
            "videos": len(videos),
            "model_load_s": round(load_s, 2),
            "sounds_per_s": round(len(library.ids) / embed_s, 1),
            "videos_per_s": round(len(videos) / (decode_s + video_s), 1),
            "videos_per_s_embedding_only": round(len(videos) / video_s, 1),
            "search_ms": round(search_s * 1000, 2),
            "distinct_top1": int(len(np.unique(found[:, 0]))),
        }

    def device_tests(self) -> dict:
        if importlib.util.find_spec("pytest") is None:
            raise RuntimeError("pytest is not installed here: add the test tools (scripts/setup.sh --dev)")
        command = [
            sys.executable,
            "-m",
            "pytest",
            "tests/retrieval/test_devices.py",
            "-m",
            "gpu",
            "-q",
            "-p",
            "no:cacheprovider",
            "--noconftest",
            "-rs",
        ]
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
        print(done.stdout[-4000:], done.stderr[-2000:], flush=True)
        summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-300:]
        if done.returncode not in (0, 5):
            raise RuntimeError(f"the gpu tests failed: {summary}")
        return {"summary": summary}

    # --- output --------------------------------------------------------------------------------

    def write(self) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "gpu-check.json").write_text(json.dumps(self.results, indent=1, default=str))
        (self.out / "gpu-check.md").write_text(self.table() + "\n")

    def table(self) -> str:
        st = self.results["stages"]
        dev = st.get("device", {})
        lines = [
            f"GPU check, {self.results['date']}, {dev.get('name', '?')} ({self.results['size']} size)",
            "stage      status  seconds  figures",
        ]
        for name, r in st.items():
            lines.append(f"{name:<10} {r['status']:<7} {r['seconds']:>7}  {self.figures(name, r)}")
        return "\n".join(lines)

    @staticmethod
    def figures(name: str, r: dict) -> str:
        if "error" in r:
            return r["error"][:200]
        if name == "device":
            if r["device"] == "cpu":
                return f"CPU ({r['name']}, {r['cpu_threads']} threads), torch {r['torch']}, no GPU used"
            return (
                f"{r.get('name')} {r.get('memory_gib', '')} GiB, torch {r['torch']}, CUDA {r.get('cuda')}, "
                f"cuDNN {r.get('cudnn')}, {r.get('gpus')} GPU(s)"
            )
        if name == "dataset":
            made = f"generated in {r['generate_s']} s, {r['preset']} cache in {r['cache_s']} s"
            return f"{r['clips']} clips, {made}"
        if name == "train":
            last = [e for e in r["epochs"] if e["stage"] == "joint"][-1]
            peak = f"peak {r['peak_memory_gib']} GiB, " if "peak_memory_gib" in r else ""
            return (
                f"{r['preset']} batch {r['batch']}: {r['step_clips_per_s']} clips/s a step, "
                f"{r['epoch_clips_per_s']} clips/s an epoch "
                f"(data {last['data_s']} s, steps {last['step_s']} s, "
                f"BN {last['bn_s']} s, valid {last['valid_s']} s), {peak}"
                f"valid ACC_rank {r['best_valid_acc_rank']:.3f}"
            )
        if name == "limit":
            return (
                f"R3D-18 trunk fwd+bwd alone: {r['clips_per_s']} clips/s; training step at "
                f"{r.get('training_step_share_of_limit', '-')} of it"
            )
        if name == "torchrun":
            return r["why"] if not r["ran"] else f"{r['gpus']} GPUs: {r['step_clips_per_s']} clips/s a step"
        if name == "workers":
            return "; ".join(
                f"{p}: {x['sounds_per_s']} sounds/s, {x['videos_per_s']} videos/s "
                f"({x['videos_per_s_embedding_only']} embedding only), search {x['search_ms']} ms"
                for p, x in r.items()
                if isinstance(x, dict)
            )
        if name == "tests":
            return r["summary"]
        return ""


def ddp_train(data: str, out: str, preset: str) -> None:
    """One rank of the torchrun stage: the same run as the single-GPU training."""
    size = SIZES["full"]
    config = default_config(
        "proposed",
        preset,
        epochs=size["epochs"],
        pretrain_epochs=size["pretrain_epochs"],
        batch_size=size["batch"],
    )
    train(
        config,
        data,
        out,
        device="cuda",
        resume=False,
        progress=False,
        log=print if os.environ.get("RANK", "0") == "0" else (lambda m: None),
    )


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--ddp-train":
        ddp_train(*sys.argv[2:])
        sys.exit(0)
    sys.exit(main())
