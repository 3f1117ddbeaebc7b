"""Group-sequential testing: O'Brien-Fleming-type alpha spending (Lan & DeMets 1983).

Pure functions, no Django. An experiment looks at its data every K kept participants. At the
look with information fraction t (kept participants / participants wanted) the one-sided level
spent so far is the Lan-DeMets O'Brien-Fleming function

    alpha(t) = 2 - 2 * Phi(z_{1 - alpha/2} / sqrt(t)),

and the boundary c_k of look k solves P(Z_1 < c_1, ..., Z_{k-1} < c_{k-1}, Z_k >= c_k) =
alpha(t_k) - alpha(t_{k-1}) under H0, where Z_k is the test statistic at look k with the
canonical joint law corr(Z_i, Z_j) = sqrt(t_i / t_j). The probability is computed by numerical
integration of the score process on a grid (Armitage, McPherson & Rowe 1969; Jennison & Turnbull
2000, ch. 19), so the boundaries follow the fractions actually observed, not a fixed plan.

Several planned comparisons share the family-wise alpha by Bonferroni: each is run at alpha / m
with its own spending, which keeps the family-wise error at most alpha whatever their
correlation. A comparison is decided once its statistic crosses its boundary; the study stops
when every planned comparison is decided, or at t = 1 (the last look spends what is left).
"""

import math
from collections.abc import Sequence

import numpy as np
from scipy import optimize
from scipy import stats as sps

GRID_POINTS = 1001  # points of the integration grid per look (boundaries to about 1e-5)
GRID_LOW = -10.0  # lower end of the grid on the z scale; mass below it is < 1e-22


def obrien_fleming_spending(t, alpha: float):
    """Cumulative one-sided alpha spent at information fraction t (0 at t = 0, alpha at t >= 1)."""
    t = np.clip(np.asarray(t, dtype=float), 0.0, 1.0)
    with np.errstate(divide="ignore"):
        spent = 2.0 - 2.0 * sps.norm.cdf(sps.norm.ppf(1.0 - alpha / 2.0) / np.sqrt(t))
    return np.where(t > 0, spent, 0.0)


def boundaries(fractions: Sequence[float], alpha: float) -> np.ndarray:
    """Upper z boundaries c_1..c_K for looks at increasing fractions (the last may be 1).

    A look that spends nothing (alpha(t_k) == alpha(t_{k-1})) gets an infinite boundary.
    """
    t = np.asarray(fractions, dtype=float)
    if len(t) == 0:
        return np.array([])
    if np.any(t <= 0) or np.any(np.diff(t) <= 0) or t[-1] > 1 + 1e-12:
        raise ValueError(f"information fractions must increase within (0, 1], got {list(t)}")
    spent = obrien_fleming_spending(t, alpha)
    increments = np.diff(np.concatenate([[0.0], spent]))
    bounds = np.empty(len(t))
    # Sub-density of the score S = Z sqrt(t) on the continuation region: (grid, weights, density).
    region: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
    previous_t = 0.0
    for k, (tk, target) in enumerate(zip(t, increments, strict=True)):
        step = tk - previous_t
        if target <= 1e-300:
            bounds[k] = math.inf
        else:
            def excess(c, tk=tk, step=step, region=region, target=target):
                return _crossing(c, tk, step, region) - target

            bounds[k] = optimize.brentq(excess, -10.0, 40.0, xtol=1e-10)
        upper = min(bounds[k], 40.0) * math.sqrt(tk)
        new_grid = np.linspace(GRID_LOW * math.sqrt(tk), upper, GRID_POINTS)
        if region is None:
            density = sps.norm.pdf(new_grid, scale=math.sqrt(tk))
        else:
            grid, weights, old = region
            kernel = sps.norm.pdf(new_grid[:, None] - grid[None, :], scale=math.sqrt(step))
            density = kernel @ (weights * old)
        region, previous_t = (new_grid, _trapezoid_weights(new_grid), density), tk
    return bounds


def _crossing(c: float, tk: float, step: float, region) -> float:
    """The probability of crossing c first at this look: the normal tail at the first look (no
    region yet), after it the tail integrated over the continuation region's sub-density."""
    if region is None:
        return float(sps.norm.sf(c))
    grid, weights, density = region
    tail = sps.norm.sf((c * math.sqrt(tk) - grid) / math.sqrt(step))
    return float(np.sum(weights * density * tail))


def _trapezoid_weights(grid: np.ndarray) -> np.ndarray:
    h = grid[1] - grid[0]
    w = np.full(len(grid), h)
    w[0] = w[-1] = h / 2
    return w


def nominal_levels(fractions: Sequence[float], alpha: float) -> np.ndarray:
    """The one-sided p-value each look must beat: 1 - Phi(c_k)."""
    return sps.norm.sf(boundaries(fractions, alpha))


def information_fraction(kept: int, wanted: int) -> float:
    return min(1.0, kept / wanted) if wanted > 0 else 1.0


def look_fractions(previous: Sequence[float], kept: int, wanted: int) -> list[float]:
    """The fractions of all looks so far plus this one; a look without new information adds none."""
    t = information_fraction(kept, wanted)
    fractions = list(previous)
    if not fractions or t > fractions[-1] + 1e-12:
        fractions.append(t)
    return fractions


def decide(
    fractions: Sequence[float],
    pvalues: dict[str, float | None],
    decided: set[str],
    alpha: float,
    comparisons: int,
) -> tuple[dict[str, dict], bool]:
    """One look: which comparisons cross their boundary now, and whether the study stops.

    `fractions` ends with this look's fraction; `pvalues` are this look's one-sided p-values of
    the planned comparisons; `decided` those already decided at earlier looks. Each comparison
    runs at alpha / comparisons (Bonferroni). Returns per comparison its z, p, boundary, nominal
    level and decision, and True when every comparison is decided or the last look is reached.
    """
    bound = float(boundaries(fractions, alpha / comparisons)[-1])
    nominal = float(sps.norm.sf(bound))
    rows = {}
    for name, p in pvalues.items():
        z = float(sps.norm.isf(p)) if p is not None else None
        crossed = name in decided or (p is not None and p <= nominal)
        rows[name] = {"p": p, "z": z, "boundary": bound, "nominal": nominal, "decided": crossed}
    all_decided = bool(rows) and all(row["decided"] for row in rows.values())
    return rows, all_decided or fractions[-1] >= 1.0 - 1e-12


def precision_reached(half_widths: dict[str, float | None], target: float) -> bool:
    """The precision rule: every method has a CI and each half-width is at most `target`."""
    return bool(half_widths) and all(h is not None and h <= target for h in half_widths.values())
