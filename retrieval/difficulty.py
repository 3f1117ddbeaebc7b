"""The difficulty study's analysis, fixed before its first run (docs/retrieval.md, "Pre-registered
study"): does Proposed - Triplet 2 in test ACC_rank grow with the data's difficulty?

Input: one `manage.py benchmark` report (`OUT/benchmark.json`) per difficulty level, the same
seeds in each. Per level, the paired difference over seeds (the benchmark's `paired_difference`);
across levels, the slope of each seed's differences on the level (least squares), and the primary
statistic: the mean of those per-seed slopes with its 95% Student-t CI (the seed is the unit that
repeats, so its slopes are the independent replicates). The pooled least-squares slope over all
(level, seed) differences is reported beside it.
"""

import json
import math
from pathlib import Path

import numpy as np
from scipy import stats

from .benchmark import CONFIDENCE, mean_ci, paired_difference

SMALLEST_SLOPE = 0.01  # ACC_rank per level: a growth below it (0.03 over 4 levels) is too small to matter
METRIC = "acc_rank"  # plain nearest-neighbour retrieval on the test dictionary


class StudyError(ValueError):
    pass


def per_seed(report: dict, variant: str) -> dict[int, float]:
    return {int(r["seed"]): float(r[METRIC]) for r in report["runs"] if r["variant"] == variant}


def differences(reports: list[dict], better: str, worse: str) -> tuple[list[int], np.ndarray]:
    """Seeds common to every level, and `better - worse` per level and seed ([levels, seeds])."""
    tables = [(per_seed(r, better), per_seed(r, worse)) for r in reports]
    seeds = sorted(set.intersection(*(set(b) & set(w) for b, w in tables)))
    if len(seeds) < 2:
        raise StudyError(f"{better} and {worse} share {len(seeds)} seed(s) across the levels; need 2")
    return seeds, np.array([[b[s] - w[s] for s in seeds] for b, w in tables])


def trend(levels, diffs: np.ndarray, confidence: float = CONFIDENCE) -> dict:
    """Slope of the differences on the level: per seed, their mean ± CI, and pooled."""
    x, d = np.asarray(levels, np.float64), np.asarray(diffs, np.float64)
    if len(x) < 2 or d.shape[0] != len(x):
        raise StudyError(f"need a difference per level for at least 2 levels, got {d.shape[0]} for {len(x)}")
    slopes = [float(np.polyfit(x, d[:, s], 1)[0]) for s in range(d.shape[1])]
    fit = stats.linregress(np.repeat(x, d.shape[1]), d.ravel())
    half = float(stats.t.ppf(0.5 + confidence / 2, d.size - 2) * fit.stderr)
    return {"per_seed": slopes, "slope": mean_ci(slopes, confidence),
            "pooled": {"mean": float(fit.slope), "ci": half, "low": float(fit.slope) - half,
                       "high": float(fit.slope) + half, "p": float(fit.pvalue)}}


def verdict(slope: dict, smallest: float = SMALLEST_SLOPE) -> str:
    """The pre-registered reading of the primary slope's CI."""
    if slope["low"] > 0:
        return "supported"
    if slope["high"] < smallest:
        return "refuted"
    return "inconclusive"


def study(reports: list[dict], levels, better: str = "proposed", worse: str = "triplet2") -> dict:
    if len(reports) != len(levels):
        raise StudyError(f"{len(reports)} reports for {len(levels)} levels")
    splits = {r["split"] for r in reports}
    if splits != {"test"}:
        raise StudyError(f"the study reads the test split; got {sorted(splits)}")
    seeds, d = differences(reports, better, worse)
    rows = [{"level": lv, **paired_difference(d[k], np.zeros_like(d[k]))} for k, lv in enumerate(levels)]
    slope = trend(levels, d)
    return {"better": better, "worse": worse, "metric": METRIC, "levels": list(levels), "seeds": seeds,
            "differences": d.tolist(), "per_level": rows, "trend": slope, "verdict": verdict(slope["slope"]),
            "smallest_slope": SMALLEST_SLOPE}


def read_reports(folders) -> list[dict]:
    out = []
    for folder in folders:
        path = Path(folder) / "benchmark.json"
        if not path.is_file():
            raise StudyError(f"{path}: no benchmark report (run manage.py benchmark --out {folder} first)")
        out.append(json.loads(path.read_text()))
    return out


def format_study(result: dict) -> str:
    name = f"{result['better']} - {result['worse']}"
    lines = [f"{name}, test ACC_rank, paired over seeds {result['seeds']}: mean ± 95% CI per level",
             f"{'level':>8} {'mean ± CI':>20} {'wins':>6} {'t-test p':>9}"]
    for row in result["per_level"]:
        lines.append(f"{row['level']:>8g} {row['mean']:>+10.4f} ± {row['ci']:<7.4f} "
                     f"{row['wins']:>3}/{row['n']:<2} {row['t_p']:>9.3g}")
    s, p = result["trend"]["slope"], result["trend"]["pooled"]
    lines += [f"slope per level (mean of per-seed slopes): {s['mean']:+.4f} ± {s['ci']:.4f} "
              f"[{s['low']:+.4f}, {s['high']:+.4f}]",
              f"pooled least-squares slope: {p['mean']:+.4f} ± {p['ci']:.4f} (p {p['p']:.3g})",
              f"pre-registered reading: {result['verdict']} (supported: CI above 0; refuted: CI below "
              f"+{result['smallest_slope']:g} per level)"]
    return "\n".join(lines)


def plot(result: dict):
    """Proposed - Triplet 2 against the level: each seed's differences, mean ± 95% CI, zero."""
    from matplotlib.figure import Figure

    x, d = np.asarray(result["levels"], float), np.asarray(result["differences"])
    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.add_subplot()
    for s in range(d.shape[1]):
        ax.plot(x, d[:, s], "o-", color="0.65", lw=0.8, ms=3, label="one seed" if s == 0 else None)
    means = [r["mean"] for r in result["per_level"]]
    cis = [0 if math.isnan(r["ci"]) else r["ci"] for r in result["per_level"]]
    ax.errorbar(x, means, yerr=cis, fmt="s-", color="C0", capsize=4, label="mean ± 95% CI")
    ax.axhline(0, color="C3", ls="--", lw=1)
    ax.set_xlabel("difficulty level")
    ax.set_ylabel(f"ACC_rank: {result['better']} - {result['worse']}")
    ax.set_title("Paired difference against difficulty (test split)")
    ax.legend(fontsize=8)
    return fig
