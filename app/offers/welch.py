"""Welch's two-sample t-test from summary statistics (pure: no database, no Flask).

An offer's effect on a metric is a difference in differences: each customer's change
(the metric during their window minus the same span before it), averaged over the
treated group, less the same average over the control group. For groups of sizes
n₁, n₀ with sums S and sums of squares Q of the changes:

    mean = S / n,  variance s² = (Q − S²/n) / (n − 1)
    estimate = mean₁ − mean₀,  standard error SE = √(s₁²/n₁ + s₀²/n₀)
    t = estimate / SE,  Welch–Satterthwaite degrees of freedom
    ν = SE⁴ / ((s₁²/n₁)² / (n₁ − 1) + (s₀²/n₀)² / (n₀ − 1))
    p = 2 · P(T_ν > |t|),  95 % interval = estimate ± t_{ν, 0.975} · SE

(``scipy.stats.t`` gives the tail and the quantile.) A group of fewer than two customers
has no variance, so no interval or p-value: the result says so with ``None`` and is not
significant.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats

CONFIDENCE = 0.95
SIGNIFICANCE = 1 - CONFIDENCE  # a p-value below it is significant


@dataclass(frozen=True)
class Moments:
    """A group's count, sum and sum of squares of one per-customer value."""

    count: int
    total: float
    squares: float

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else 0.0

    @property
    def variance(self) -> float:
        if self.count < 2:
            return math.nan
        # Float rounding may leave a tiny negative for a group whose values are equal.
        return max(0.0, (self.squares - self.total * self.total / self.count)
                   / (self.count - 1))


@dataclass(frozen=True)
class Comparison:
    """Treated minus control, with its interval and p-value (None when not computable)."""

    estimate: float
    ci_low: float | None
    ci_high: float | None
    p_value: float | None

    @property
    def significant(self) -> bool:
        return self.p_value is not None and self.p_value < SIGNIFICANCE


def welch(treated: Moments, control: Moments) -> Comparison:
    estimate = treated.mean - control.mean
    if treated.count < 2 or control.count < 2:
        return Comparison(estimate, None, None, None)
    part_treated = treated.variance / treated.count
    part_control = control.variance / control.count
    squared_error = part_treated + part_control
    if squared_error == 0:
        # Every change equal within each group: the difference is exact.
        return Comparison(estimate, estimate, estimate, 1.0 if estimate == 0 else 0.0)
    error = math.sqrt(squared_error)
    freedom = squared_error ** 2 / (part_treated ** 2 / (treated.count - 1)
                                    + part_control ** 2 / (control.count - 1))
    t_value = estimate / error
    p_value = float(2 * stats.t.sf(abs(t_value), freedom))
    margin = float(stats.t.ppf(1 - SIGNIFICANCE / 2, freedom)) * error
    return Comparison(estimate, estimate - margin, estimate + margin, p_value)
