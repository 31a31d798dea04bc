"""``carelake catalogue``: a static HTML catalogue of the lake for governance officers and analysts.

One self-contained site (no network, no server; open ``index.html``) under ``<lake>/_catalogue`` by default:
the domains of ``metadata/data_map.yml`` with owner and steward, every documented table with its columns
(Chinese and English names, definition, type, unit, value set, OMOP / national standard, classification
category and level), each gold column's lineage (upstream columns, bronze columns, source files per source),
the latest quality scores and rule results per table, the master-data registry and the indicators.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from carelake.metadata.dictionary import Dictionary, load_dictionary


@dataclass
class CatalogueReport:
    out_dir: Path
    pages: list[str]
    tables: int
    columns: int
    lineage_columns: int

    def summary(self) -> str:
        return (f"catalogue: {len(self.pages)} pages, {self.tables} tables, {self.columns} columns "
                f"({self.lineage_columns} with lineage) -> {self.out_dir / 'index.html'}")


def default_out_dir(settings) -> Path:
    return Path(settings.lake_root) / "_catalogue"


def _table_exists(spark, name: str) -> bool:
    try:
        return spark.catalog.tableExists(name)
    except Exception:  # noqa: BLE001 - database missing
        return False


def quality_by_table(spark) -> dict[str, dict]:
    """Latest quality run per table: rules checked / failed and the worst status, from ``quality.results``."""
    from carelake.quality.tables import RESULTS

    if not _table_exists(spark, RESULTS):
        return {}
    rows = spark.sql(f"""
        with latest as (select max(run_at) as run_at from {RESULTS} where level = 'rule')
        select r.table_name, max(r.run_id) as run_id, count(distinct r.rule_id) as rules,
               count(distinct r.rule_id) filter (where r.status = 'failed') as failed,
               count(distinct r.rule_id) filter (where r.status = 'passed_with_failed_rows') as with_failed_rows,
               sum(r.element_count) as checked, sum(r.unexpected_count) as unexpected
        from {RESULTS} r join latest l on r.run_at = l.run_at
        group by r.table_name""").collect()
    out = {}
    for row in rows:
        score = 100.0 * (1 - (row.unexpected or 0) / row.checked) if row.checked else None
        out[row.table_name] = {**row.asDict(), "score": None if score is None else round(score, 2)}
    return out


def quality_scores(spark) -> list[dict]:
    """Latest monthly scores per hospital (``source_id = '*'``) and dimension from ``quality.scores``."""
    from carelake.quality.tables import SCORES

    if not _table_exists(spark, SCORES):
        return []
    rows = spark.sql(f"""
        select organization, dimension, period_start, round(score, 2) as score, threshold, breached
        from {SCORES}
        where source_id = '*' and period_type = 'month'
          and run_at = (select max(run_at) from {SCORES})
        order by organization, dimension, period_start""").collect()
    return [r.asDict() for r in rows]


def _quality_for(quality: dict[str, dict], table: str) -> dict | None:
    layer, name = table.split(".", 1)
    for key in (table, name, f"{layer}_{name}"):
        if key in quality:
            return quality[key]
    return None


def _files_per_table(spark) -> dict[str, dict[str, int]]:
    """{bronze table: {source_id: landed files}} from the ingest ledger (one query)."""
    from carelake.ingest.tables import LEDGER_TABLE

    out: dict[str, dict[str, int]] = {}
    for row in spark.sql(f"select lower(bronze_table) as t, source_id, count(distinct file_path) as n "
                         f"from {LEDGER_TABLE} group by 1, 2").collect():
        table = row.t if row.t and row.t.startswith("bronze.") else f"bronze.{row.t}"
        out.setdefault(table, {})[row.source_id] = row.n
    return out


def _lineage_rows(spark, settings, dictionary: Dictionary, tables: list[str]) -> dict[str, dict]:
    """Per gold column: direct upstream columns, bronze columns and landed files per source."""
    from carelake.metadata.lineage import LineageError, ModelGraph, column_lineage

    try:
        graph = ModelGraph(spark, settings)
    except LineageError:
        return {}
    files = _files_per_table(spark)
    out: dict[str, dict] = {}
    by_table = dictionary.by_table()
    for table in tables:
        for element in by_table.get(table, []):
            try:
                result = column_lineage(spark, settings, element.id, graph=graph, with_files=False)
            except LineageError:
                continue
            per_source: dict[str, int] = {}
            for bronze in result.bronze_tables:
                for source, n in files.get(bronze, {}).items():
                    per_source[source] = per_source.get(source, 0) + n
            out[element.id] = {
                "upstream": sorted(str(up) for up, _ in result.upstream(result.target)),
                "bronze": sorted(str(c) for c in result.bronze_columns),
                "seeds": sorted(str(c) for c in result.seeds),
                "files": dict(sorted(per_source.items())),
            }
    return out


def build_dbt_docs(settings, out_dir: Path) -> Path:
    """``dbt docs generate --static`` (model graph, column docs and tests of transforms/) copied into the site as
    ``dbt/index.html``: one self-contained file that opens without a server."""
    import shutil

    from carelake.transform import run_dbt

    result = run_dbt(["docs", "generate", "--static"], settings)
    static = result.target_path / "static_index.html"
    if not result.success or not static.exists():
        raise RuntimeError("dbt docs generate failed:\n" + result.summary())
    target = Path(out_dir) / "dbt" / "index.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(static, target)
    return target


def build_catalogue(spark, settings, out_dir: Path | None = None, dictionary: Dictionary | None = None,
                    with_lineage: bool = True, with_dbt_docs: bool = False) -> CatalogueReport:
    """Write the static catalogue site (with ``with_dbt_docs``, dbt's own docs beside it); returns what was written."""
    import jinja2
    import yaml

    from carelake.metadata.check import live_columns

    dictionary = dictionary or load_dictionary(settings)
    out_dir = Path(out_dir) if out_dir else default_out_dir(settings)
    (out_dir / "tables").mkdir(parents=True, exist_ok=True)
    dbt_docs = build_dbt_docs(settings, out_dir) if with_dbt_docs else None
    live = live_columns(spark, ["gold"])
    tables = sorted(set(dictionary.tables) | set(live))
    quality = quality_by_table(spark)
    lineage = _lineage_rows(spark, settings, dictionary, [t for t in tables if t in live]) if with_lineage else {}
    master_data = yaml.safe_load((Path(settings.metadata_dir) / "master_data.yml").read_text(encoding="utf-8"))
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
                                     autoescape=jinja2.select_autoescape(["html", "j2"]),
                                     undefined=jinja2.StrictUndefined)
    environment.filters["fmt"] = _fmt
    built_at = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    by_table = dictionary.by_table()
    common = {"built_at": built_at, "data_map": dictionary.data_map}
    pages = []
    table_rows = []
    for table in tables:
        info = dictionary.tables.get(table, {})
        elements = by_table.get(table, [])
        row = {"name": table, "file": f"tables/{table}.html", "domain": info.get("domain"),
               "description": info.get("description", ""), "built": table in live,
               "documented": len(elements), "live_columns": len(live.get(table, {})),
               "quality": _quality_for(quality, table),
               "undocumented": sorted(set(live.get(table, {})) - {e.column for e in elements})}
        table_rows.append(row)
        html = environment.get_template("catalogue_table.html.j2").render(
            table=row, elements=elements, lineage=lineage, levels=_levels(settings), **common)
        (out_dir / row["file"]).write_text(html, encoding="utf-8")
        pages.append(row["file"])
    index = environment.get_template("catalogue_index.html.j2").render(
        tables=table_rows, domains=dictionary.data_map.domains.values(), indicators=dictionary.indicators.values(),
        master_data=master_data.get("kinds", {}), scores=quality_scores(spark), levels=_levels(settings),
        elements=len(dictionary.elements), dbt_docs=dbt_docs is not None or (out_dir / "dbt" / "index.html").exists(),
        **common)
    (out_dir / "index.html").write_text(index, encoding="utf-8")
    pages.append("index.html")
    (out_dir / "catalogue.json").write_text(json.dumps({
        "built_at": built_at,
        "elements": [{**e.__dict__, "id": e.id, "value_set": _fmt(e.value_set)} for e in dictionary.elements.values()],
        "lineage": lineage}, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    return CatalogueReport(out_dir, pages, len(tables), sum(len(v) for v in by_table.values()), len(lineage))


def _levels(settings) -> dict[int, dict]:
    from carelake.access.classification import load_classification

    return load_classification(settings).levels


def _fmt(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return "; ".join(f"{k} = {v}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)
