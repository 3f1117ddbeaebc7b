"""The benchmark's report: the tables it prints (`format_report`), and the files it writes
(`write_outputs`: benchmark.json, runs.csv and the per-seed ACC_rank plot)."""

import csv
import json
import math
from pathlib import Path

import numpy as np

from .benchmark import DETECTION, HUBNESS, LIBRARY, METRICS, OPTION_KEYS, OPTIONS, option_prefix, per_seed
from .evaluate import VARIANT_NAMES
from .hubness import HUBNESS_OPTIONS


def _name(variant: str) -> str:
    return VARIANT_NAMES.get(variant, "Random")


def _ci(cell: dict, digits: int = 3) -> str:
    if math.isnan(cell["ci"]):
        return f"{cell['mean']:.{digits}f}"
    return f"{cell['mean']:.{digits}f} ± {cell['ci']:.{digits}f}"


def format_report(report: dict) -> str:
    """The report as printed: Tables 1 and 2, the paired differences, the hubness options, the
    separate library (when given), the best epochs, the training times and the run count."""
    sections = (_table1, _table2, _paired, _hubness, _library, _best_epochs, _training_time)
    lines = [line for section in sections for line in section(report)]
    reused = sum(r["reused"] for r in report["runs"])
    lines.append(f"{len(report['runs'])} runs ({reused} reused from earlier), "
                 f"{report['seconds']['total']:.0f} s")
    return "\n".join(lines)


def _table1(report: dict) -> list[str]:
    seeds = report["plan"]["seeds"]
    lines = [f"Table 1: retrieval on {report['n']} {report['split']} samples with a sound effect, "
             f"mean ± 95% CI over {len(seeds)} seeds ({', '.join(map(str, seeds))})",
             f"{'method':<10} {'ACC_rank':>15} {'R@5':>15} {'R@50':>15} {'R@100':>15}"]
    for v, row in report["table1"].items():
        lines.append(f"{_name(v):<10} " + " ".join(f"{_ci(row[k]):>15}" for k in METRICS))
    return lines


def _table2(report: dict) -> list[str]:
    lines = ["", f"Table 2: sound-effect detection accuracy over {report['det_n']} {report['split']} samples "
             "(awareness heads, threshold 0.5)", f"{'method':<10} {'video':>15} {'audio':>15}"]
    for v, row in report["table2"].items():
        lines.append(f"{_name(v):<10} " + " ".join(f"{_ci(row[k]):>15}" for k in DETECTION))
    if not report["table2"]:
        lines.append("(no variant with awareness heads)")
    return lines


def _paired(report: dict) -> list[str]:
    lines = ["", "Paired differences in ACC_rank (same seed): mean ± 95% CI, wins, two-sided paired "
             "t-test and Wilcoxon signed-rank p",
             f"{'difference':<24} {'mean ± CI':>17} {'wins':>6} {'t-test p':>9} {'Wilcoxon p':>11}"]
    for d in report["paired"]:
        label = f"{_name(d['better'])} - {_name(d['worse'])}"
        lines.append(f"{label:<24} {_ci(d, 4):>17} {d['wins']:>3}/{d['n']:<2} {d['t_p']:>9.3g} "
                     f"{d['wilcoxon_p']:>11.3g}")
    return lines


def _hubness(report: dict) -> list[str]:
    split = report["split"]
    lines = ["", f"Hubness options on the {split} dictionary ({report['n']} sounds; the {split} videos are "
             f"the query bank of csls and assign): ACC_rank, R@1 (Random {1 / report['n']:.3f}), R@5, "
             "hub share = share of queries whose top-1 is the most chosen sound, k-skew = skewness of "
             "the 10-occurrence",
             f"{'method':<10} {'option':<7} {'ACC_rank':>15} {'R@1':>15} {'R@5':>15} {'hub share':>15} "
             f"{'k-skew':>15}"]
    for v in report["hubness"]:
        for o, by_variant in report["options"].items():
            c = by_variant[v]
            scores = " ".join(f"{_ci(c[k]):>15}" for k in ("acc_rank", "r@1", "r@5", "hub_share"))
            lines.append(f"{_name(v):<10} {o:<7} {scores} {_ci(c['k_skewness'], 2):>15}")
    return lines


def _library(report: dict) -> list[str]:
    if "library" not in report:
        return []
    lib = report["library"]
    scored = lib["chance"] is not None
    meaning = (f"class@1 = top-1 sound of the video's effect class (chance {lib['chance']:.3f})" if scored
               else "class@1 cannot be computed: no library class is named like an effect class")
    lines = ["", f"Separate sound library ({lib['n']} sounds, {report['plan']['library']}): "
             f"the {report['split']} videos with an effect query it; {meaning}",
             f"{'method':<10} {'option':<7} {'class@1':>15} {'hub share':>15} {'k-skew':>15} "
             f"{'distinct':>10}"]
    for v, row in lib.items():
        if v in ("chance", "n"):
            continue
        for o in HUBNESS_OPTIONS:
            p = f"{option_prefix(o)}lib_"
            acc = _ci(row[f"{p}class_acc"]) if scored else "-"
            lines.append(f"{_name(v):<10} {o:<7} {acc:>15} {_ci(row[f'{p}hub_share']):>15} "
                         f"{_ci(row[f'{p}k_skewness'], 2):>15} {row[f'{p}distinct_top1']['mean']:>10.1f}")
    return lines


def _best_epochs(report: dict) -> list[str]:
    best = [r for r in report["runs"] if r.get("best_epoch") is not None]
    if not best:
        return []
    last = sum(r["best_epoch"] == r["epochs"] for r in best)
    note = ": still improving at the end, more epochs may help (choose them on valid)" if last else ""
    return ["", f"best validation epoch (the one kept): the last in {last} of {len(best)} runs{note}"]


def _training_time(report: dict) -> list[str]:
    trained = report["seconds"]["train"]
    if not trained:
        return []
    per: dict[str, list[float]] = {}
    for key, sec in trained.items():
        per.setdefault(key.split("-seed")[0], []).append(sec)
    times = ", ".join(f"{_name(v)} {np.mean(s):.0f} s" for v, s in per.items())
    return ["", f"training time per seed: {times}"]


def write_outputs(report: dict, out) -> dict:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tag = "" if report["split"] == "test" else f"-{report['split']}"  # valid results never overwrite test
    paths = {"json": out / f"benchmark{tag}.json", "csv": out / f"runs{tag}.csv",
             "plot": out / f"acc_rank{tag}.png"}
    paths["json"].write_text(json.dumps(report, indent=2, default=float))
    columns = ["variant", "seed", "n", *METRICS, *DETECTION, "det_n", *HUBNESS,
               "r@1", *(f"{o}_{k}" for o in OPTIONS for k in OPTION_KEYS),
               *(f"{option_prefix(o)}lib_{k}" for o in HUBNESS_OPTIONS for k in LIBRARY),
               "best_epoch", "epochs", "checkpoint"]
    with open(paths["csv"], "w", newline="") as fh:
        writer = csv.DictWriter(fh, columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(report["runs"])
    plot(report).savefig(paths["plot"], dpi=120)
    return paths


def plot(report: dict):
    """Per-seed ACC_rank by variant (a line per seed joins its runs), mean ± 95% CI, Random at 0.5."""
    from matplotlib.figure import Figure

    variants = [v for v in report["table1"] if v != "random"]
    seeds = report["plan"]["seeds"]
    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.add_subplot()
    values = {v: per_seed(report["runs"], v, seeds, "acc_rank", report["n"]) for v in variants}
    for i in range(len(seeds)):
        ax.plot(range(len(variants)), [values[v][i] for v in variants], "o-", color="0.6", lw=0.8,
                ms=4, alpha=0.8, label="one seed" if i == 0 else None)
    for x, v in enumerate(variants):
        cell = report["table1"][v]["acc_rank"]
        ax.errorbar(x + 0.12, cell["mean"], yerr=0 if math.isnan(cell["ci"]) else cell["ci"], fmt="s",
                    color="C0", capsize=4, label="mean ± 95% CI" if x == 0 else None)
    ax.axhline(0.5, color="C3", ls="--", lw=1, label="Random")
    ax.set_xticks(range(len(variants)), [_name(v) for v in variants])
    ax.set_ylabel("ACC_rank")
    ax.set_title(f"ACC_rank per seed, {report['split']} split, N = {report['n']}")
    ax.legend(loc="lower right", fontsize=8)
    return fig
