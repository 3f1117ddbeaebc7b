"""A benchmark: every variant trained over several seeds on one dataset, evaluated, and summarised
as the paper's Tables 1 and 2 with 95% confidence intervals over seeds, plus paired differences
between variants (same seed, same data, same trunk).

The video trunk is seeded apart from the training seed (`trunk_seed`, fixed for the whole plan),
as a pre-trained trunk would be: all runs share one feature cache, and a seed varies the heads'
and audio encoder's initialisation, the batch order and the negative choice. Each run is a
checkpoint under `OUT/runs/`; a finished one is reused, an interrupted one resumes, so the
command can be stopped and started again. Results go to `OUT/benchmark.json`, `OUT/runs.csv`
and `OUT/acc_rank.png` (per-seed ACC_rank by variant).
"""

import json
import math
import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import numpy as np
from scipy import stats
from tqdm import tqdm

from .checkpoint import load_checkpoint
from .config import VARIANTS, ModelConfig, TrainConfig, default_config
from .evaluate import library_scores, read_library, score_split
from .hubness import HUBNESS_OPTIONS
from .inference import RetrievalModel, build_net, resolve_device
from .inputs import TrainingError, load_train_split
from .metrics import random_scores
from .presets import DEFAULT_PRESET, get_preset
from .train import fit

METRICS = ("acc_rank", "r@5", "r@50", "r@100")
DETECTION = ("det_video", "det_audio")
HUBNESS = ("hub_share", "k_skewness")
LIBRARY = ("class_acc", "hub_share", "k_skewness", "distinct_top1")
OPTIONS = tuple(o for o in HUBNESS_OPTIONS if o != "none")  # reported beside the plain search
OPTION_KEYS = (*METRICS, "r@1", *HUBNESS)
# The paper's ordering, Proposed > Triplet 2 > Triplet 1 > Random: each pair is (better, worse).
PAIRS = (("proposed", "triplet2"), ("triplet2", "triplet1"), ("proposed", "triplet1"),
         ("proposed", "random"), ("triplet2", "random"), ("triplet1", "random"))
CONFIDENCE = 0.95


class BenchmarkError(ValueError):
    """A plan that cannot run (unknown setting, results of another plan in the output folder)."""


@dataclass
class Plan:
    data: str
    out: str
    variants: tuple = VARIANTS
    seeds: tuple = (0, 1, 2, 3, 4)
    preset: str = DEFAULT_PRESET
    split: str = "test"  # the split evaluated: "valid" for choosing settings, "test" to report
    trunk_seed: int = 0
    settings: dict = field(default_factory=dict)  # TrainConfig / ModelConfig fields, e.g. lambda2
    video_weights: str | None = None
    library: str | None = None  # a separate sound library (folder) the videos also query

    def config(self, variant: str, seed: int) -> TrainConfig:
        train_keys = {f.name for f in fields(TrainConfig)} - {"model", "variant", "preset", "seed"}
        model_keys = {f.name for f in fields(ModelConfig)}
        unknown = set(self.settings) - train_keys - model_keys
        if unknown:
            raise BenchmarkError(f"unknown setting(s) {sorted(unknown)}; known: "
                                 f"{sorted(train_keys | model_keys)}")
        train = {k: v for k, v in self.settings.items() if k in train_keys}
        config = default_config(variant, self.preset, seed=seed, trunk_seed=self.trunk_seed,
                                video_weights=self.video_weights, **train)
        model = {k: v for k, v in self.settings.items() if k in model_keys}
        return replace(config, model=replace(config.model, **model)) if model else config

    def runs(self) -> list[tuple[str, int]]:
        return [(v, s) for s in self.seeds for v in self.variants]

    def checkpoint(self, variant: str, seed: int) -> Path:
        return Path(self.out) / "runs" / f"{variant}-seed{seed}.pt"


def parse_settings(pairs) -> dict:
    """`key=value` strings to a dict; values are read as JSON when they parse (numbers, booleans)."""
    settings = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise BenchmarkError(f"a setting must be key=value, got {pair!r}")
        try:
            settings[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            settings[key.strip()] = value
    return settings


# --- statistics ---------------------------------------------------------------------------------


def mean_ci(values, confidence: float = CONFIDENCE) -> dict:
    """Mean and the half-width of its Student-t confidence interval (NaN below 2 values)."""
    x = np.asarray(values, dtype=np.float64)
    n = len(x)
    mean = float(x.mean()) if n else math.nan
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1) * stats.sem(x)) if n > 1 else math.nan
    return {"n": n, "mean": mean, "ci": half, "low": mean - half, "high": mean + half}


def paired_difference(better, worse, confidence: float = CONFIDENCE) -> dict:
    """Per-seed differences `better - worse`: mean with CI, wins, paired t-test and Wilcoxon test."""
    a, b = np.asarray(better, np.float64), np.asarray(worse, np.float64)
    diff = a - b
    out = {**mean_ci(diff, confidence), "wins": int((diff > 0).sum()), "ties": int((diff == 0).sum())}
    if len(diff) > 1 and np.ptp(diff) > 0:
        out["t_p"] = float(stats.ttest_rel(a, b).pvalue)
    elif len(diff) > 1 and diff[0] != 0:  # identical non-zero differences: certain, p -> 0
        out["t_p"] = 0.0
    else:
        out["t_p"] = math.nan
    out["wilcoxon_p"] = float(stats.wilcoxon(diff).pvalue) if (diff != 0).any() else math.nan
    return out


# --- the run ------------------------------------------------------------------------------------


def _finished(path: Path, config: TrainConfig) -> bool:
    if not path.is_file():
        return False
    state = load_checkpoint(path)
    done = state["epoch"] >= config.epochs
    if config.uses_awareness:
        done = done and state.get("pretrain_epoch", 0) >= config.pretrain_epochs
    return done


def _check_plan(plan: Plan) -> None:
    """The output folder holds at most runs of this plan's data, preset and settings."""
    path = Path(plan.out) / "plan.json"
    keep = ("data", "preset", "trunk_seed", "settings", "video_weights")  # library: evaluation only
    mine = {k: getattr(plan, k) for k in keep}
    if path.is_file():
        old = json.loads(path.read_text())
        theirs = {k: old.get(k) for k in keep}
        if theirs != mine:
            changed = [k for k in keep if theirs[k] != mine[k]]
            raise BenchmarkError(f"{plan.out}: holds a benchmark of another plan ({', '.join(changed)} "
                                 "differ); choose another --out")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(plan), indent=2))


def _epochs(config: TrainConfig) -> int:
    return config.epochs + (config.pretrain_epochs if config.uses_awareness else 0)


def _done_epochs(path: Path) -> int:
    if not path.is_file():
        return 0
    state = load_checkpoint(path)
    return state["epoch"] + state.get("pretrain_epoch", 0)


def run(plan: Plan, device: str = "auto", progress: bool = True, log=print) -> dict:
    """Train (or reuse) every run of the plan, evaluate each on `plan.split`, summarise."""
    bad = [v for v in plan.variants if v not in VARIANTS]
    if bad or not plan.variants:
        raise BenchmarkError(f"unknown variant(s) {bad}; choose among {list(VARIANTS)}")
    if len(set(plan.seeds)) != len(plan.seeds) or not plan.seeds:
        raise BenchmarkError(f"seeds must be distinct and at least one, got {list(plan.seeds)}")
    configs = {(v, s): plan.config(v, s) for v, s in plan.runs()}
    _check_plan(plan)
    dev = resolve_device(device)
    preset = get_preset(plan.preset)
    started = time.monotonic()

    # one trunk for the whole plan: features (or frames) of each split loaded once, shared
    first = next(iter(configs.values()))
    trunk_net = build_net(first, preset, first.video_weights).to(dev)
    names = list(dict.fromkeys(("train", "valid", plan.split)))
    log(f"loading {plan.data} ({', '.join(names)}; preset {plan.preset}, trunk seed {plan.trunk_seed})")
    splits = {name: load_train_split(trunk_net, plan.data, name, preset, dev, progress) for name in names}
    fingerprint = trunk_net.video.frozen_fingerprint()
    library = read_library(plan.library) if plan.library else None
    prepared = time.monotonic() - started

    total = sum(_epochs(c) + 1 for c in configs.values())  # + 1: the evaluation of each run
    bar = tqdm(total=total, desc="benchmark", unit="step", disable=not progress)
    results, timings = [], {}
    for (variant, seed), config in configs.items():
        path = plan.checkpoint(variant, seed)
        if _finished(path, config):
            bar.update(_epochs(config))
            reused = True
        else:
            bar.update(min(_done_epochs(path), _epochs(config)))
            net = build_net(config, preset, config.video_weights)
            if net.video.frozen_fingerprint() != fingerprint:
                raise TrainingError(f"{variant} seed {seed}: its trunk differs from the plan's")
            run_started = time.monotonic()
            bar.set_postfix_str(f"{variant} seed {seed}")
            fit(config, splits["train"], splits["valid"], path, net=net, device=device, resume=True,
                progress=False, log=lambda *a: None, on_epoch=lambda record: bar.update(1))
            timings[f"{variant}-seed{seed}"] = round(time.monotonic() - run_started, 1)
            reused = False
        model = RetrievalModel.from_checkpoint(path, device=device)
        scored = score_split(model, splits[plan.split], HUBNESS_OPTIONS)
        row = {**scored["none"], **{f"{o}_{k}": scored[o][k] for o in OPTIONS for k in OPTION_KEYS}}
        if library is not None:
            lib = library_scores(model, splits[plan.split], library, HUBNESS_OPTIONS)
            row.update({f"{option_prefix(o)}lib_{k}": lib[o][k] for o in HUBNESS_OPTIONS for k in LIBRARY})
            row["lib_class_chance"] = lib["none"]["class_chance"]
            row["library_n"] = lib["none"]["library_n"]
        best = load_checkpoint(path)["best"] or {}
        results.append({"variant": variant, "seed": seed, "checkpoint": str(path), "reused": reused,
                        "best_epoch": best.get("epoch"), "epochs": config.epochs, **row})
        bar.update(1)
    bar.close()
    n = results[0]["n"]
    report = {"plan": asdict(plan), "split": plan.split, "n": n, "det_n": results[0]["det_n"],
              "runs": results, "seconds": {"prepare": round(prepared, 1), "train": timings,
                                           "total": round(time.monotonic() - started, 1)}}
    report.update(summarise(results, plan.seeds, n))
    return report


def option_prefix(option: str) -> str:
    return "" if option == "none" else f"{option}_"


def per_seed(results: list[dict], variant: str, seeds, key: str, n: int) -> list[float]:
    if variant == "random":
        return [random_scores(n)[key]] * len(seeds) if key in METRICS else []
    by_seed = {r["seed"]: r[key] for r in results if r["variant"] == variant}
    return [by_seed[s] for s in seeds]


def summarise(results: list[dict], seeds, n: int) -> dict:
    variants = ["random"] + [v for v in VARIANTS if any(r["variant"] == v for r in results)]
    table1 = {v: {k: mean_ci(per_seed(results, v, seeds, k, n)) for k in METRICS} for v in variants}
    options = {o: {v: {k: mean_ci(per_seed(results, v, seeds, f"{option_prefix(o)}{k}", n))
                       for k in OPTION_KEYS} for v in variants if v != "random"}
               for o in HUBNESS_OPTIONS}
    hub = {v: {k: mean_ci(per_seed(results, v, seeds, k, n)) for k in HUBNESS}
           for v in variants if v != "random"}
    table2 = {v: {k: mean_ci(per_seed(results, v, seeds, k, n)) for k in DETECTION}
              for v in variants if v != "random" and all(r["det_video"] is not None
                                                           for r in results if r["variant"] == v)}
    paired = []
    for better, worse in PAIRS:
        if better in variants and worse in variants:
            diff = paired_difference(per_seed(results, better, seeds, "acc_rank", n),
                                     per_seed(results, worse, seeds, "acc_rank", n))
            paired.append({"better": better, "worse": worse, "metric": "acc_rank", **diff})
    out: dict = {"table1": table1, "table2": table2, "hubness": hub, "options": options, "paired": paired}
    if "lib_hub_share" in results[0]:
        scored = results[0]["lib_class_chance"] is not None  # None: no class shares a name
        keys = [f"{option_prefix(o)}lib_{k}" for o in HUBNESS_OPTIONS for k in LIBRARY
                if scored or k != "class_acc"]
        library: dict = {v: {k: mean_ci(per_seed(results, v, seeds, k, n)) for k in keys}
                         for v in variants if v != "random"}
        library.update(chance=results[0]["lib_class_chance"], n=results[0]["library_n"])
        out["library"] = library
    return out


# --- output -------------------------------------------------------------------------------------
