"""The analysts' door to the lake, for notebooks: a Spark session on the shared catalog, reading only a role's
masked views, every read recorded in the audit log.

    from carelake.analyst import session
    lake = session(role="researcher", purpose="T2DM cohort, approval 2026-17")
    visits = lake.table("gold.visit_occurrence")                      # Spark DataFrame of the role's view
    counts = lake.sql("select visit_concept_id, count(*) n from gold.visit_occurrence group by 1")   # pandas
    lake.describe("gold.person")                                      # the dictionary entries of a table

Reads go through :mod:`carelake.access.query` (``read_table`` / ``query``): tables are named by layer
(``gold.person``), rewritten to the role's view (``gold_researcher.person``), refused when the role may not see
the layer, and appended to ``audit.access_log``. ``metadata/privacy/roles.yml`` says what each role sees: the
``analyst`` role sees event dates generalised to the year, the ``researcher`` role (approved projects) day-level
dates - trends by week or month need the latter. The quality tables (aggregates, masked example rows) are read
with :meth:`AnalystSession.quality`, also audited.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass

QUALITY_TABLES = ("results", "scores", "daily_metrics", "anomalies", "alerts", "failed_rows")


@dataclass
class AnalystSession:
    spark: object
    settings: object
    role: str
    user: str
    purpose: str

    def table(self, name: str, count_rows: bool = False):
        """The role's masked view of ``layer.table`` as a Spark DataFrame (audited)."""
        from carelake.access.query import read_table

        return read_table(name, role=self.role, user=self.user, purpose=self.purpose, spark=self.spark,
                          settings=self.settings, count_rows=count_rows)

    def sql(self, statement: str, limit: int | None = None):
        """Run one read-only query over ``layer.table`` names as the role; a pandas DataFrame (audited)."""
        import pandas as pd

        from carelake.access.query import query

        columns, rows = query(self.spark, self.settings, statement, role=self.role, user=self.user,
                              purpose=self.purpose, limit=limit)
        return pd.DataFrame.from_records([tuple(r) for r in rows], columns=columns)

    def quality(self, name: str):
        """A ``quality.*`` table (scores, results, alerts, ... - no personal data) as a Spark DataFrame (audited)."""
        from carelake.access.audit import record_access
        from carelake.access.query import AccessDenied

        table = name.split(".", 1)[-1].lower()
        if table not in QUALITY_TABLES:
            raise AccessDenied(f"quality.{table}: not a quality table ({', '.join(QUALITY_TABLES)})")
        frame = self.spark.table(f"quality.{table}")
        record_access(self.spark, self.settings, user=self.user, role=self.role, tables=[f"quality.{table}"],
                      columns=frame.columns, purpose=self.purpose, query_text=f"quality({table!r})",
                      action="read_table")
        return frame

    def tables(self) -> list[str]:
        """The ``layer.table`` names this role can read (those with a view)."""
        from carelake.access.roles import load_roles

        policy = load_roles(self.settings)[self.role]
        out = []
        for layer in policy.layers:
            schema = policy.view_schema(layer)
            if self.spark.catalog.databaseExists(schema):
                out += [f"{layer}.{r.viewName}" for r in self.spark.sql(f"SHOW VIEWS IN {schema}").collect()
                        if not r.isTemporary]
        return sorted(out)

    def describe(self, table: str):
        """The dictionary entries of a table (pandas): names in Chinese and English, definition, unit, level."""
        import pandas as pd

        from carelake.metadata.dictionary import load_dictionary

        elements = load_dictionary(self.settings).by_table().get(table.lower(), [])
        return pd.DataFrame([{"column": e.column, "name_zh": e.name_zh, "name_en": e.name_en, "type": e.data_type,
                              "unit": e.unit, "level": e.level, "definition": e.definition} for e in elements])


def session(role: str = "analyst", user: str | None = None, purpose: str = "exploratory analysis",
            settings=None) -> AnalystSession:
    """A notebook's session: the shared catalog (``CARELAKE_*`` environment), reading as ``role``."""
    from carelake.access.query import AccessDenied
    from carelake.access.roles import load_roles
    from carelake.config import load_settings
    from carelake.spark import get_spark

    settings = settings or load_settings()
    roles = load_roles(settings)
    if role not in roles:
        raise AccessDenied(f"unknown role {role!r} (roles: {', '.join(sorted(roles))})")
    user = user or os.environ.get("CARELAKE_USER") or getpass.getuser()
    return AnalystSession(get_spark(settings, app_name=f"carelake-notebook-{role}"), settings, role, user, purpose)
