"""The GX expectation suites in ``expectations/`` (one JSON file per checked table), as rules.

Each expectation's ``meta`` carries ``rule_id`` (stable, ``<table>.<check>``), ``dimension``,
``severity`` and ``description`` (optionally ``dqd_check``, the OHDSI DQD check it borrows).
``unexpected_condition`` compiles a row-level expectation into the Spark condition GX counts as
unexpected, so one grouped aggregation per table gives every rule's per-source per-day counts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

DIMENSIONS = ("completeness", "accuracy", "consistency", "timeliness", "uniqueness")
SEVERITIES = ("critical", "major", "minor")
SUPPORTED = (
    "expect_column_values_to_not_be_null",
    "expect_column_values_to_be_in_set",
    "expect_column_values_to_be_between",
    "expect_column_pair_values_a_to_be_greater_than_b",
    "expect_column_values_to_match_regex",
)


class SuiteError(ValueError):
    """A suite file that cannot be used, with the file and expectation named."""


@dataclass(frozen=True)
class Rule:
    suite: str
    rule_id: str
    expectation_type: str
    kwargs: dict
    dimension: str
    severity: str
    description: str
    dqd_check: str | None = None

    @property
    def columns(self) -> list[str]:
        if "column" in self.kwargs:
            return [self.kwargs["column"]]
        return [self.kwargs["column_A"], self.kwargs["column_B"]]

    @property
    def column_name(self) -> str:
        return ",".join(self.columns)


@dataclass(frozen=True)
class Suite:
    name: str
    description: str
    rules: list[Rule] = field(default_factory=list)
    path: Path | None = None


def suites_dir(settings) -> Path:
    return settings.project_dir / "expectations"


def load_suite(path: Path) -> Suite:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise SuiteError(f"{path}: not a readable JSON suite ({exc})") from None
    name = data.get("name") or path.stem
    if name != path.stem:
        raise SuiteError(f"{path}: suite name {name!r} differs from the file name {path.stem!r}")
    rules, seen = [], set()
    for index, exp in enumerate(data.get("expectations", []), start=1):
        where = f"{path.name} expectation {index}"
        meta, kind = exp.get("meta") or {}, exp.get("type")
        if kind not in SUPPORTED:
            raise SuiteError(f"{where}: type {kind!r} is not one of {', '.join(SUPPORTED)}")
        missing = [k for k in ("rule_id", "dimension", "severity", "description") if not meta.get(k)]
        if missing:
            raise SuiteError(f"{where}: meta lacks {', '.join(missing)}")
        if meta["dimension"] not in DIMENSIONS:
            raise SuiteError(f"{where}: dimension {meta['dimension']!r} not in {', '.join(DIMENSIONS)}")
        if meta["severity"] not in SEVERITIES:
            raise SuiteError(f"{where}: severity {meta['severity']!r} not in {', '.join(SEVERITIES)}")
        if not meta["rule_id"].startswith(f"{name}."):
            raise SuiteError(f"{where}: rule_id {meta['rule_id']!r} must start with '{name}.'")
        if meta["rule_id"] in seen:
            raise SuiteError(f"{where}: rule_id {meta['rule_id']!r} repeats")
        seen.add(meta["rule_id"])
        rules.append(Rule(name, meta["rule_id"], kind, dict(exp.get("kwargs") or {}), meta["dimension"],
                          meta["severity"], meta["description"], meta.get("dqd_check")))
    return Suite(name, (data.get("meta") or {}).get("description", ""), rules, path)


def load_suites(settings, names: list[str] | None = None) -> dict[str, Suite]:
    """Suites by name (all files in expectations/, or just ``names``); a missing name is an error."""
    folder = suites_dir(settings)
    paths = {p.stem: p for p in sorted(folder.glob("*.json"))}
    unknown = sorted(set(names or ()) - set(paths))
    if unknown:
        raise SuiteError(f"no suite file for {', '.join(unknown)} in {folder}")
    return {name: load_suite(paths[name]) for name in (names or paths)}


def unexpected_condition(rule: Rule):
    """The Spark condition that is true for a row GX counts as unexpected (missing values are not
    unexpected, except for not-null; a pair rule ignores rows where either value is missing)."""
    from pyspark.sql import functions as F

    kw = rule.kwargs
    if rule.expectation_type == "expect_column_values_to_not_be_null":
        return F.col(kw["column"]).isNull()
    if rule.expectation_type == "expect_column_pair_values_a_to_be_greater_than_b":
        a, b = F.col(kw["column_A"]), F.col(kw["column_B"])
        ok = a >= b if kw.get("or_equal") else a > b
        if kw.get("ignore_row_if", "both_values_are_missing") != "either_value_is_missing":
            raise SuiteError(f"{rule.rule_id}: pair rules must set ignore_row_if: either_value_is_missing")
        return a.isNotNull() & b.isNotNull() & ~ok
    col = F.col(kw["column"])
    if rule.expectation_type == "expect_column_values_to_be_in_set":
        ok = col.isin(list(kw["value_set"]))
    elif rule.expectation_type == "expect_column_values_to_match_regex":
        ok = col.rlike(kw["regex"])
    else:  # between
        ok = F.lit(True)
        if kw.get("min_value") is not None:
            ok = ok & ((col > kw["min_value"]) if kw.get("strict_min") else (col >= kw["min_value"]))
        if kw.get("max_value") is not None:
            ok = ok & ((col < kw["max_value"]) if kw.get("strict_max") else (col <= kw["max_value"]))
    return col.isNotNull() & ~ok


def gx_suite(suite: Suite):
    """The suite as a GX ExpectationSuite (meta kept, so Data Docs show dimension and severity)."""
    import great_expectations as gx
    from great_expectations.expectations.registry import get_expectation_impl

    expectations = []
    for rule in suite.rules:
        meta = {"rule_id": rule.rule_id, "dimension": rule.dimension, "severity": rule.severity,
                "description": rule.description}
        if rule.dqd_check:
            meta["dqd_check"] = rule.dqd_check
        expectations.append(get_expectation_impl(rule.expectation_type)(**rule.kwargs, meta=meta,
                                                                         description=rule.description))
    return gx.ExpectationSuite(name=suite.name, expectations=expectations, meta={"description": suite.description})
