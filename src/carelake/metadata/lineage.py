"""Column lineage: from a gold column back to the bronze columns and the source files that feed it.

Built from what the pipeline already records, nothing hand-maintained:

* the **dbt manifest** (``<lake>/_dbt/target/manifest.json``, written by every ``carelake transform``) gives the
  models, seeds and sources and the relation each one is; the compiled SQL of each model
  (``target/compiled/...``) is parsed with **sqlglot** (Spark dialect) to map every output column to the
  upstream columns it is computed from, with the live catalog as the schema (``select *`` resolves);
* tables that Python steps write (the MPI's ``silver.mpi_person_map``, the de-identification tables) are linked
  to their inputs by :data:`PYTHON_STEPS`;
* the **ingestion ledger** (``bronze.ingest_ledger``) turns each bronze table reached into the landed files it
  was loaded from (source, entity, path, checksum, rows).

``carelake lineage gold.person.year_of_birth`` prints the tree; :func:`column_lineage` returns it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

# tables written by Python steps between dbt builds: table -> (step, input table, the input columns an output column
# depends on when the input has no column of the same name, {output column: "layer.table.column" it comes from})
PYTHON_STEPS = {
    "silver.mpi_person_map": ("carelake.mpi (master patient index)", "silver.int_patients__unioned",
                              ("source_id", "patient_source_id", "id_number", "name", "sex", "birth_date", "phone",
                               "address", "region_code"), {}),
    "silver.deid_person_pseudonyms": ("carelake.privacy (keyed pseudonyms)", "silver.mpi_person_map", ("person_id",),
                                      {}),
    "silver.deid_notes": ("carelake.privacy (note redaction)", "silver.int_notes", ("note_text",),
                          {"person_id": "silver.mpi_person_map.person_id",
                           "note_time": "silver.deid_person_pseudonyms.date_shift_days"}),
}
CONSTANT = "(constant)"


class LineageError(ValueError):
    """The column or table is unknown, or the dbt manifest is missing."""


@dataclass(frozen=True)
class ColumnRef:
    table: str      # layer.table
    column: str

    def __str__(self) -> str:
        return f"{self.table}.{self.column}"


@dataclass
class Lineage:
    target: ColumnRef
    edges: list[tuple[ColumnRef, ColumnRef, str]] = field(default_factory=list)  # (column, upstream, how)
    bronze_columns: list[ColumnRef] = field(default_factory=list)
    seeds: list[ColumnRef] = field(default_factory=list)
    source_files: list[dict] = field(default_factory=list)   # ledger rows of the bronze tables reached

    @property
    def bronze_tables(self) -> list[str]:
        return sorted({c.table for c in self.bronze_columns})

    def upstream(self, ref: ColumnRef) -> list[tuple[ColumnRef, str]]:
        return [(up, how) for down, up, how in self.edges if down == ref]

    def tree(self, max_depth: int = 12) -> str:
        lines = [str(self.target)]

        def walk(ref: ColumnRef, depth: int, seen: frozenset) -> None:
            for up, how in sorted(self.upstream(ref), key=lambda e: str(e[0])):
                note = f"   [{how}]" if how != "sql" else ""
                lines.append(f"{'  ' * depth}<- {up}{note}")
                if up not in seen and depth < max_depth:
                    walk(up, depth + 1, seen | {up})

        walk(self.target, 1, frozenset({self.target}))
        return "\n".join(lines)

    def summary(self) -> str:
        files = sorted({f["file_path"] for f in self.source_files})
        by_source: dict[str, int] = {}
        for f in self.source_files:
            by_source[f["source_id"]] = by_source.get(f["source_id"], 0) + 1
        parts = [self.tree(), "", f"bronze columns ({len(self.bronze_columns)}):"]
        parts += [f"  {c}" for c in sorted(self.bronze_columns, key=str)]
        if self.seeds:
            parts += [f"seeds ({len(self.seeds)}):"] + [f"  {c}" for c in sorted(self.seeds, key=str)]
        parts.append(f"source files ({len(files)}, from bronze.ingest_ledger): "
                     + ", ".join(f"{s} {n}" for s, n in sorted(by_source.items())))
        parts += [f"  {f}" for f in files]
        return "\n".join(parts)


def manifest_path(settings) -> Path:
    from carelake.transform import dbt_home

    return dbt_home(settings) / "target" / "manifest.json"


class ModelGraph:
    """The dbt project as relations (layer.table) with their compiled SQL, and per-model column maps."""

    def __init__(self, spark, settings, manifest: dict | None = None):
        path = manifest_path(settings)
        if manifest is None:
            if not path.exists():
                raise LineageError(f"{path} not found: run `carelake transform` first (dbt writes the manifest)")
            manifest = json.loads(path.read_text(encoding="utf-8"))
        self.spark = spark
        self.target_dir = path.parent
        self.nodes: dict[str, dict] = {}
        for node in [*manifest.get("nodes", {}).values(), *manifest.get("sources", {}).values()]:
            if node.get("resource_type") in ("model", "seed", "source") and node.get("relation_name"):
                self.nodes[_relation(node["relation_name"])] = node
        self._schemas: dict[str, dict[str, str] | None] = {}
        self._maps: dict[str, dict[str, set[ColumnRef]]] = {}

    def kind(self, relation: str) -> str:
        """model | seed | source (bronze or a Python step's table) | python | unknown."""
        if relation in PYTHON_STEPS:
            return "python"
        node = self.nodes.get(relation)
        return node["resource_type"] if node else "unknown"

    def columns(self, relation: str) -> dict[str, str] | None:
        if relation not in self._schemas:
            try:
                fields = self.spark.table(relation).schema.fields
                self._schemas[relation] = {f.name.lower(): f.dataType.simpleString() for f in fields}
            except Exception:  # noqa: BLE001 - a relation the catalog does not hold (not built yet)
                self._schemas[relation] = None
        return self._schemas[relation]

    def compiled_sql(self, relation: str) -> str:
        node = self.nodes[relation]
        compiled = self.target_dir / "compiled" / node["package_name"] / node["original_file_path"]
        if compiled.exists():
            return compiled.read_text(encoding="utf-8")
        if node.get("compiled_code"):
            return node["compiled_code"]
        raise LineageError(f"no compiled SQL for {relation} ({compiled}): run `carelake transform` first")

    def upstream_relations(self, relation: str) -> list[str]:
        node = self.nodes.get(relation)
        if not node:
            return []
        by_id = {n["unique_id"]: r for r, n in self.nodes.items()}
        return [by_id[d] for d in node.get("depends_on", {}).get("nodes", []) if d in by_id]

    def column_map(self, relation: str) -> dict[str, set[ColumnRef]]:
        """{output column: upstream columns} of one model (sqlglot over its compiled SQL)."""
        if relation in self._maps:
            return self._maps[relation]
        if relation in PYTHON_STEPS:
            self._maps[relation] = self._python_step_map(relation)
        else:
            self._maps[relation] = self._sql_map(relation)
        return self._maps[relation]

    def _python_step_map(self, relation: str) -> dict[str, set[ColumnRef]]:
        _, source, keys, named = PYTHON_STEPS[relation]
        source_columns = self.columns(source) or {}
        out = {}
        for column in self.columns(relation) or {}:
            same = {ColumnRef(source, column)} if column in source_columns else set()
            if column in named:
                same.add(parse_column(named[column]))
            out[column] = same or {ColumnRef(source, k) for k in keys if k in source_columns}
        return out

    def _sql_map(self, relation: str) -> dict[str, set[ColumnRef]]:
        import sqlglot
        from sqlglot import exp
        from sqlglot.lineage import lineage

        try:
            parsed = sqlglot.parse_one(self.compiled_sql(relation), dialect="spark")
        except (LineageError, sqlglot.errors.SqlglotError):  # not compiled in this lake, or unparsable
            return self._fallback_map(relation)
        schema: dict[str, dict[str, dict[str, str]]] = {}  # column types do not matter for lineage
        for table in parsed.find_all(exp.Table):
            cols = self.columns(f"{table.db}.{table.name}".lower()) if table.db else None
            if cols is not None:
                schema.setdefault(table.db.lower(), {})[table.name.lower()] = dict.fromkeys(cols, "string")
        try:
            nodes = lineage(None, parsed, schema=schema, dialect="spark")
        except Exception:  # noqa: BLE001 - SQL sqlglot cannot follow: fall back to same-named upstream columns
            return self._fallback_map(relation)
        out = {}
        for column, node in nodes.items():
            refs = set()
            for leaf in node.walk():
                if leaf.downstream or not isinstance(leaf.expression, exp.Table):
                    continue
                upstream = f"{leaf.expression.db}.{leaf.expression.name}".lower()
                name = leaf.name.split(".")[-1].lower()
                if name == "*":
                    continue
                refs.add(ColumnRef(upstream, name))
            out[column.lower()] = refs
        return out

    def _fallback_map(self, relation: str) -> dict[str, set[ColumnRef]]:
        ups = self.upstream_relations(relation)
        out = {}
        for column in self.columns(relation) or {}:
            out[column] = {ColumnRef(u, column) for u in ups if column in (self.columns(u) or {})}
        return out


def _relation(name: str) -> str:
    return name.replace("`", "").lower()


def parse_column(name: str) -> ColumnRef:
    parts = name.lower().split(".")
    if len(parts) != 3:
        raise LineageError(f"name the column as <layer>.<table>.<column>, e.g. gold.person.year_of_birth (got {name!r})")
    return ColumnRef(f"{parts[0]}.{parts[1]}", parts[2])


def column_lineage(spark, settings, column: str | ColumnRef, graph: ModelGraph | None = None,
                   with_files: bool = True) -> Lineage:
    """Walk from ``column`` (``gold.person.year_of_birth``) up to bronze columns, seeds and source files."""
    graph = graph or ModelGraph(spark, settings)
    target = parse_column(column) if isinstance(column, str) else column
    cols = graph.columns(target.table)
    if cols is None:
        raise LineageError(f"{target.table}: no such table in the catalog")
    if target.column not in cols:
        raise LineageError(f"{target}: no such column (columns: {', '.join(cols)})")
    result = Lineage(target)
    seen: set[ColumnRef] = set()
    todo = [target]
    while todo:
        ref = todo.pop()
        if ref in seen:
            continue
        seen.add(ref)
        kind = graph.kind(ref.table)
        if kind == "source" and ref.table.startswith("bronze."):
            result.bronze_columns.append(ref)
            continue
        if kind == "seed":
            result.seeds.append(ref)
            continue
        if kind not in ("model", "python"):
            continue
        how = "sql" if kind == "model" else PYTHON_STEPS[ref.table][0]
        upstream = graph.column_map(ref.table).get(ref.column, set())
        for up in sorted(upstream, key=str):
            result.edges.append((ref, up, how))
            todo.append(up)
    if with_files:
        result.source_files = ledger_files(spark, result.bronze_tables)
    return result


def ledger_files(spark, bronze_tables: list[str]) -> list[dict]:
    """Ledger rows (source, entity, file, checksum, status, rows) of the given bronze tables."""
    from carelake.ingest.tables import LEDGER_TABLE

    if not bronze_tables:
        return []
    names = sorted({t.split(".", 1)[1] for t in bronze_tables} | set(bronze_tables))
    listed = ", ".join("'" + n.replace("'", "''") + "'" for n in names)
    rows = spark.sql(f"""
        select source_id, entity, bronze_table, file_path, file_sha256, extract_date, status, rows_read, rows_bronze
        from {LEDGER_TABLE} where lower(bronze_table) in ({listed}) order by source_id, entity, file_path""").collect()
    return [row.asDict() for row in rows]
