"""Data quality: GX suites (expectations/) by dimension, three levels (source, rule, anomaly), scores.

    from carelake.quality import validate
    run = validate(settings, spark)          # quality.results, quality.scores, quality.failed_rows, Data Docs

Thresholds: metadata/quality/thresholds.yml. Tables: carelake.quality.tables.
"""

from __future__ import annotations

__all__ = ["AFTER_VALIDATION", "ValidationRun", "validate"]


def __getattr__(name):  # heavy imports (Spark, GX) only when used
    if name in __all__:
        from carelake.quality import runner

        return getattr(runner, name)
    raise AttributeError(name)
