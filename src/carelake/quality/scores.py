"""Scores per hospital x dimension x day and month, from one run's results (levels source and rule).

score = 100 x (1 - unexpected / element) over all results of the dimension in the period; breached when below
the dimension's ``min_score`` (thresholds.yml). Two grains: per source (``source_id`` = registry id) and per
organization (``source_id`` = ``'*'``, all sources of one hospital, e.g. H04 = h04_nanhu_adt + h04_nanhu_his).
Results without an extract date (none today) count only in the month of the run.
"""

from __future__ import annotations

from collections import defaultdict

ALL_SOURCES = "*"  # source_id of the organization grain: every source of one hospital


def score_rows(results: list[dict], thresholds) -> list[dict]:
    sums: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    for r in results:
        if r["level"] not in ("source", "rule") or r["source_id"] is None:
            continue
        day = r["data_date"] or r["run_at"].date()
        grains = [(r["source_id"], r["organization"])]
        if r["organization"]:
            grains.append((ALL_SOURCES, r["organization"]))
        for source_id, organization in grains:
            for period_type, start in (("day", day), ("month", day.replace(day=1))):
                s = sums[(source_id, organization, r["dimension"], period_type, start)]
                s[0] += r["element_count"]
                s[1] += r["unexpected_count"]
    run = results[0] if results else {}
    rows = []
    for (source_id, organization, dimension, period_type, start), (element, unexpected) in sorted(
            sums.items(), key=lambda kv: tuple(str(x) for x in kv[0])):
        score = 100.0 * (1 - unexpected / element) if element else 100.0
        minimum = thresholds.min_score(dimension)
        rows.append(dict(run_id=run["run_id"], run_at=run["run_at"], source_id=source_id, organization=organization,
                         dimension=dimension, period_type=period_type, period_start=start, element_count=element,
                         unexpected_count=unexpected, score=score, threshold=minimum, breached=score < minimum))
    return rows
