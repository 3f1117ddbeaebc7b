"""The study-design simulations: how fast the planner runs, and what the sequential rule does.

    .venv/bin/python bench/planning.py [--simulations 1000] [--seed 0]

1. planner   power of the paper-like study (four methods, ten videos, full design, 10% excluded)
             over numbers of participants, with the time it takes;
2. speed     one point of that curve computed by `planning.simulate` (every simulated study at
             once, scipy's vectorised Mann-Whitney U) against the reference: the same studies one
             at a time through `stats.compare_all`, the results page's own function. Prints both
             times and the ratio (goal: the vectorised planner at least 10x faster);
3. stopping  the O'Brien-Fleming rule with looks every 4 of 20 kept participants: the
             false-positive rate under no difference (with its Monte Carlo error) against testing
             every look at plain alpha, and under a real difference the power and the mean number
             of kept participants at stopping.
"""

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from evalsite.experiments import planning, sequential, stats  # noqa: E402

PAPER_LIKE = {"Proposed": 3.3, "Triplet 2": 3.0, "Triplet 1": 2.9, "Random": 2.6}


def planner(simulations, seed):
    distributions = {label: planning.from_mos(mos, 1.1) for label, mos in PAPER_LIKE.items()}
    ns = [10, 18, 30, 45, 60]
    start = time.perf_counter()
    points = planning.simulate(
        distributions, ns, videos=10, exclusion=0.1, simulations=simulations, seed=seed
    )
    elapsed = time.perf_counter() - start
    pairs = [
        ("Proposed", "Triplet 2"),
        ("Proposed", "Triplet 1"),
        ("Proposed", "Random"),
        ("Triplet 2", "Random"),
    ]
    print(
        f"1. planner: MOS {PAPER_LIKE}, SD 1.1, 10 videos, full design, 10% excluded, "
        f"{simulations} simulated studies per N ({elapsed:.1f} s)"
    )
    print(f"{'N':>4} {'kept':>5} {'per method':>10}  " + "  ".join(f"{a + ' > ' + b:>20}" for a, b in pairs))
    for p in points:
        cells = "  ".join(f"{p.power[pair]:>13.3f} ± {p.mc_error(pair):.3f}" for pair in pairs)
        print(f"{p.participants:>4} {p.kept:>5} {p.ratings:>10}  {cells}")
    for pair in pairs:
        n = planning.smallest_n(points, pair)
        print(f"   power 0.8 for {pair[0]} > {pair[1]}: {'N = ' + str(n) if n else 'not within N <= 60'}")


def speed(seed):
    distributions = {label: planning.from_mos(mos, 1.1) for label, mos in PAPER_LIKE.items()}
    simulations, n = 300, 18
    planning.simulate(distributions, [n], videos=10, simulations=10, seed=seed)  # warm-up, not timed
    start = time.perf_counter()
    planning.simulate(distributions, [n], videos=10, exclusion=0.1, simulations=simulations, seed=seed)
    vectorised = time.perf_counter() - start
    rng = np.random.default_rng(seed)
    kept = round(n * 0.9)
    start = time.perf_counter()
    for _ in range(simulations):
        groups = {
            label: rng.choice(planning.SCORES, size=kept * 10, p=p).tolist()
            for label, p in distributions.items()
        }
        stats.compare_all(groups)
    reference = time.perf_counter() - start
    print(f"\n2. speed: {simulations} studies of N = {n}, 4 methods (12 one-sided tests, Holm)")
    print(f"   planning.simulate (vectorised)      {vectorised:7.2f} s")
    print(f"   stats.compare_all, one study a time {reference:7.2f} s   (reference)")
    print(f"   ratio reference / vectorised: {reference / vectorised:.1f}x (goal >= 10x)")


def stopping(seed):
    looks, per_look, alpha = 5, 4 * 3, 0.05  # 4 kept participants x 3 videos per look
    fractions = [k / looks for k in range(1, looks + 1)]
    nominal = sequential.nominal_levels(fractions, alpha)
    bounds = sequential.boundaries(fractions, alpha)
    rng = np.random.default_rng(seed)
    print(f"\n3. stopping: looks at {fractions} of 20 kept participants, 3 videos each, alpha {alpha}")
    print(
        "   boundaries z: "
        + ", ".join(f"{b:.3f}" for b in bounds)
        + "; nominal p: "
        + ", ".join(f"{p:.5f}" for p in nominal)
    )
    same = [0.1, 0.2, 0.3, 0.25, 0.15]
    better = [0.02, 0.08, 0.25, 0.35, 0.3]
    for name, p_a, reps in (("no difference", same, 4000), ("A better (MOS 3.83 vs 3.15)", better, 2000)):
        a = rng.choice(planning.SCORES, size=(reps, per_look * looks), p=p_a)
        b = rng.choice(planning.SCORES, size=(reps, per_look * looks), p=same)
        p = np.column_stack(
            [
                stats.one_sided_p(a[:, : per_look * k], b[:, : per_look * k], axis=1)[1]
                for k in range(1, looks + 1)
            ]
        )
        crossed = p <= nominal
        rejected = crossed.any(axis=1)
        first = np.where(rejected, crossed.argmax(axis=1), looks - 1)
        mean_kept = float(np.mean((first + 1) * 4))
        se = math.sqrt(rejected.mean() * (1 - rejected.mean()) / reps)
        naive = np.mean((p <= alpha).any(axis=1))
        print(
            f"   {name:<28} reject A > B: {rejected.mean():.4f} ± {se:.4f}; "
            f"every look at plain alpha: {naive:.4f}; mean kept at stop: {mean_kept:.1f} of 20"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--simulations", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    planner(args.simulations, args.seed)
    speed(args.seed)
    stopping(args.seed)


if __name__ == "__main__":
    main()
