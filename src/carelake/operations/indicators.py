"""The indicator definitions: ``metadata/operations/indicators.yml`` loaded and checked.

Every mistake is reported at once, each naming the indicator (or chart) and the field:
unknown or missing fields, duplicate ids, a formula that is not exactly one of ``sql`` / ``measure``,
an unknown measure, category, owner, grain or unit, and thresholds that contradict their direction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from carelake.operations.thresholds import Thresholds

INDICATORS_FILE = Path("operations") / "indicators.yml"
GRAINS = ("platform", "source")
UNITS = ("%", "rows", "files", "hours", "days", "seconds", "bytes", "count", "score")
REQUIRED = ("id", "name", "category", "definition", "formula", "unit", "owner", "grain", "thresholds")
OPTIONAL = ("missing",)
CHART_FIELDS = {"id", "title", "kind", "x", "y", "sql", "color"}
CHART_KINDS = ("line", "bar", "grouped_bar")
ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
DEFAULT_MISSING = "no data"


class IndicatorError(ValueError):
    """The indicators file is wrong; the message lists every problem with its place."""


@dataclass(frozen=True)
class Indicator:
    id: str
    name: str
    category: str
    definition: str
    unit: str
    owner: str
    grain: str
    thresholds: Thresholds
    sql: str | None = None
    measure: str | None = None
    args: dict = field(default_factory=dict)
    missing: str = DEFAULT_MISSING

    @property
    def formula_text(self) -> str:
        """The formula as a reader sees it: the SQL, or the measure and its arguments."""
        if self.sql:
            return " ".join(self.sql.split())
        return f"measure {self.measure}({', '.join(f'{k}={v}' for k, v in self.args.items())})"


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    kind: str
    x: str
    y: str
    sql: str
    color: str | None = None


@dataclass(frozen=True)
class IndicatorCatalog:
    owners: dict[str, str]
    categories: dict[str, str]
    indicators: list[Indicator]
    charts: list[Chart]
    path: Path

    def by_category(self) -> list[tuple[str, str, list[Indicator]]]:
        return [(c, text, [i for i in self.indicators if i.category == c]) for c, text in self.categories.items()]


def indicators_path(settings) -> Path:
    return Path(settings.metadata_dir) / INDICATORS_FILE


def load_indicators(settings=None, path: Path | None = None) -> IndicatorCatalog:
    """Read and check the indicators file (default ``metadata/operations/indicators.yml``)."""
    import yaml

    from carelake.config import load_settings

    path = Path(path) if path else indicators_path(settings or load_settings())
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise IndicatorError(f"{path}: not valid YAML: {exc}") from None
    return parse_indicators(doc, path)


def parse_indicators(doc: dict, path: Path = Path("indicators.yml")) -> IndicatorCatalog:
    """Check a parsed indicators document; raise :class:`IndicatorError` listing every problem."""
    from carelake.operations.measures import MEASURES

    problems: list[str] = []
    unknown_top = set(doc) - {"owners", "categories", "indicators", "charts"}
    if unknown_top:
        problems.append(f"unknown top-level field(s) {', '.join(sorted(unknown_top))}")
    owners = dict(doc.get("owners") or {})
    categories = dict(doc.get("categories") or {})
    if not owners or not categories:
        problems.append("`owners` and `categories` must each list at least one entry")
    indicators, seen = [], set()
    for n, raw in enumerate(doc.get("indicators") or [], start=1):
        where = f"indicator {raw.get('id') or '#' + str(n)}" if isinstance(raw, dict) else f"indicator #{n}"
        if not isinstance(raw, dict):
            problems.append(f"{where}: must be a mapping")
            continue
        mine = _indicator_problems(raw, owners, categories, MEASURES)
        if raw.get("id") in seen:
            mine.append(f"duplicate id {raw['id']!r}")
        seen.add(raw.get("id"))
        if mine:
            problems.extend(f"{where}: {p}" for p in mine)
            continue
        formula = raw["formula"]
        indicators.append(Indicator(
            id=raw["id"], name=raw["name"], category=raw["category"], definition=" ".join(str(raw["definition"]).split()),
            unit=raw["unit"], owner=raw["owner"], grain=raw["grain"], thresholds=Thresholds(**raw["thresholds"]),
            sql=formula.get("sql"), measure=formula.get("measure"), args=dict(formula.get("args") or {}),
            missing=str(raw.get("missing", DEFAULT_MISSING))))
    if not indicators and not problems:
        problems.append("no indicators defined")
    charts = []
    for n, raw in enumerate(doc.get("charts") or [], start=1):
        where = f"chart {raw.get('id') or '#' + str(n)}" if isinstance(raw, dict) else f"chart #{n}"
        mine = _chart_problems(raw) if isinstance(raw, dict) else ["must be a mapping"]
        problems.extend(f"{where}: {p}" for p in mine)
        if not mine:
            charts.append(Chart(**raw))
    if problems:
        raise IndicatorError(f"{path}: {len(problems)} problem(s):\n  " + "\n  ".join(problems))
    return IndicatorCatalog(owners, categories, indicators, charts, path)


def _indicator_problems(raw: dict, owners: dict, categories: dict, measures: dict) -> list[str]:
    problems = [f"unknown field {k!r}" for k in raw if k not in REQUIRED + OPTIONAL]
    problems += [f"missing field {k!r}" for k in REQUIRED if raw.get(k) in (None, "")]
    if problems:
        return problems
    if not ID_PATTERN.match(str(raw["id"])):
        problems.append(f"id must be lower_snake_case, got {raw['id']!r}")
    for key, allowed in (("category", categories), ("owner", owners), ("grain", GRAINS), ("unit", UNITS)):
        if raw[key] not in allowed:
            problems.append(f"{key} {raw[key]!r} is not one of {', '.join(allowed)}")
    formula = raw["formula"]
    if not isinstance(formula, dict) or sorted(set(formula) - {"args"}) not in (["sql"], ["measure"]):
        problems.append("formula must have exactly one of `sql` or `measure` (plus `args` for a measure)")
    elif "measure" in formula and formula["measure"] not in measures:
        problems.append(f"unknown measure {formula['measure']!r}; measures are {', '.join(sorted(measures))}")
    elif "sql" in formula and "args" in formula:
        problems.append("`args` belong to a measure, not to sql")
    thresholds = raw["thresholds"]
    if not isinstance(thresholds, dict) or set(thresholds) != {"direction", "green", "amber"}:
        problems.append("thresholds must have exactly direction, green and amber")
    else:
        try:
            Thresholds(**thresholds)
        except ValueError as exc:
            problems.append(f"thresholds: {exc}")
    return problems


def _chart_problems(raw: dict) -> list[str]:
    problems = [f"unknown field {k!r}" for k in raw if k not in CHART_FIELDS]
    problems += [f"missing field {k!r}" for k in sorted(CHART_FIELDS - {"color"}) if not raw.get(k)]
    if raw.get("kind") and raw["kind"] not in CHART_KINDS:
        problems.append(f"kind {raw['kind']!r} is not one of {', '.join(CHART_KINDS)}")
    return problems
