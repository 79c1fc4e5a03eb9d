"""Robustness evaluation and reports (metrics with confidence intervals, probes, reports).

Not built yet: see the `evalkit` issue.
"""

__all__: list[str] = []
