"""The source registry: ``metadata/sources.yml`` as validated Python objects.

A source is one system of one organisation that lands extracts (a hospital's
HIS exporting CSV, its ADT feed in HL7 v2, a clinic's FHIR bulk export...).
Each source declares its format and, per entity, where the files land and how
their columns map to carelake's canonical bronze names (``metadata/entities.yml``).
Adding a hospital with a new layout is a YAML entry, not code.
"""

from __future__ import annotations

import fnmatch
import re
from functools import cached_property
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from carelake.config import Settings

IDENT = r"^[a-z][a-z0-9_]*$"
SourceKind = Literal["hospital", "primary_care", "cdc", "exam_centre", "reference_sample"]
SourceFormat = Literal["csv", "xlsx", "fhir_ndjson", "fhir_bundle", "hl7v2", "dicom", "jdbc"]


class RegistryError(ValueError):
    """The registry file is wrong; the message names the file and the place."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CsvOptions(_Strict):
    encoding: str = "utf-8"
    delimiter: str = ","
    quotechar: str = '"'
    header_language: Literal["en", "zh", "other"] = "en"
    null_values: list[str] = Field(default_factory=lambda: ["", "NULL", "null", "NA", "N/A"])
    date_format: str | None = None  # how dates are written, e.g. "%Y/%m/%d" (silver staging reads it)
    datetime_format: str | None = None  # how local times are written, e.g. "%d.%m.%Y %H:%M"; default date_format + " %H:%M:%S"

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        import codecs

        try:
            codecs.lookup(value)
        except LookupError as exc:
            raise ValueError(f"unknown encoding {value!r}") from exc
        return value

    @field_validator("delimiter", "quotechar")
    @classmethod
    def _one_char(cls, value: str) -> str:
        if value == "\\t":
            value = "\t"
        if len(value) != 1:
            raise ValueError(f"must be exactly one character, got {value!r}")
        return value


class EntitySpec(_Strict):
    name: str = ""  # filled from the mapping key
    path: str = ""  # glob with placeholders {landing}, {shared}, {pydicom_data}, {date}; relative paths are under landing
    columns: dict[str, str] = Field(default_factory=dict)  # source column -> canonical bronze column
    required: list[str] | None = None  # canonical columns that must be present; default from entities.yml
    resource_type: str | None = None  # FHIR: only resources of this type
    sheet: str | None = None  # xlsx: the sheet of this entity (default: the first)
    header_row: int = Field(default=1, ge=1)  # xlsx: 1-based row of the header (rows above it, e.g. a title, are skipped)
    table: str | None = None  # jdbc: table (or view) to pull
    query: str | None = None  # jdbc: or a SELECT to pull
    key: list[str] = Field(default_factory=list)  # jdbc: source columns that identify a row (late updates merge on it)
    watermark: str | None = None  # jdbc: monotonically increasing change column (e.g. updated_at) for incremental pulls
    deleted_flag: str | None = None  # jdbc: deletion marker column (true/1/Y = deleted at the source)
    description: str = ""

    @field_validator("columns")
    @classmethod
    def _targets_are_identifiers(cls, value: dict[str, str]) -> dict[str, str]:
        for source_col, target in value.items():
            if not re.match(IDENT, target):
                raise ValueError(f"column {source_col!r} maps to {target!r}, which is not a lower_snake_case name")
        targets = list(value.values())
        dupes = sorted({t for t in targets if targets.count(t) > 1})
        if dupes:
            raise ValueError(f"several source columns map to {', '.join(dupes)}")
        return value


class JdbcOptions(_Strict):
    """A database a source exposes (HIS/LIS reporting database). Credentials never live here: they come from
    ``CARELAKE_SOURCE_<ID>_USER`` / ``CARELAKE_SOURCE_<ID>_PASSWORD`` or from the Airflow connection ``airflow_conn_id``."""

    url: str  # e.g. jdbc:postgresql://host:5432/his, jdbc:mysql://host:3306/his, jdbc:sqlserver://host:1433;databaseName=his
    driver: str | None = None  # default from the URL (PostgreSQL, MySQL, SQL Server)
    airflow_conn_id: str | None = None
    fetch_size: int = 10_000
    properties: dict[str, str] = Field(default_factory=dict)  # extra driver properties (never user/password)

    @field_validator("url")
    @classmethod
    def _jdbc_url(cls, value: str) -> str:
        if not value.startswith("jdbc:"):
            raise ValueError(f"must start with 'jdbc:', got {value!r}")
        return value

    @field_validator("properties")
    @classmethod
    def _no_secrets(cls, value: dict[str, str]) -> dict[str, str]:
        secret = [k for k in value if k.lower() in {"user", "password", "username"}]
        if secret:
            raise ValueError(f"credentials ({', '.join(secret)}) must come from the environment or an Airflow connection")
        return value


class SourceSpec(_Strict):
    id: str
    name: str
    kind: SourceKind
    format: SourceFormat
    organization: str | None = None  # organisation code; several sources (systems) may share one
    region: str | None = None
    schedule: Literal["daily", "weekly", "monthly", "once"] = "daily"
    csv: CsvOptions = Field(default_factory=CsvOptions)
    jdbc: JdbcOptions | None = None
    entities: dict[str, EntitySpec]
    description: str = ""

    @model_validator(mode="after")
    def _format_needs(self):
        for entity in self.entities.values():
            if self.format == "jdbc" and not (entity.table or entity.query):
                raise ValueError(f"entity {entity.name}: a jdbc source needs `table` or `query` per entity")
            if self.format != "jdbc" and not entity.path:
                raise ValueError(f"entity {entity.name}: `path` is required")
        if self.format == "jdbc" and self.jdbc is None:
            raise ValueError("a jdbc source needs a `jdbc:` block with its `url`")
        return self

    @field_validator("id")
    @classmethod
    def _id_form(cls, value: str) -> str:
        if not re.match(IDENT, value) or "__" in value:
            raise ValueError(f"source id {value!r} must be lower_snake_case without '__'")
        return value

    @field_validator("entities", mode="before")
    @classmethod
    def _name_entities(cls, value):
        if not isinstance(value, dict) or not value:
            raise ValueError("must map at least one entity name to its files")
        out = {}
        for name, spec in value.items():
            if not isinstance(name, str) or not re.match(IDENT, name) or "__" in name:
                raise ValueError(f"entity name {name!r} must be lower_snake_case without '__'")
            out[name] = {**(spec or {}), "name": name}
        return out

    def bronze_table(self, entity: str) -> str:
        return f"{self.id}__{entity}"


class CanonicalColumn(_Strict):
    description: str
    required: bool = False


class CanonicalEntity(_Strict):
    description: str
    columns: dict[str, CanonicalColumn]

    @property
    def required(self) -> list[str]:
        return [name for name, col in self.columns.items() if col.required]


class Registry(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    sources: list[SourceSpec]
    entities: dict[str, CanonicalEntity]
    settings: Settings

    @cached_property
    def by_id(self) -> dict[str, SourceSpec]:
        return {s.id: s for s in self.sources}

    def source(self, source_id: str) -> SourceSpec:
        try:
            return self.by_id[source_id]
        except KeyError:
            known = ", ".join(sorted(self.by_id)) or "none"
            raise RegistryError(f"unknown source {source_id!r} (registered: {known})") from None

    def select(self, ids: list[str] | None = None, kinds: list[str] | None = None) -> list[SourceSpec]:
        chosen = [self.source(i) for i in ids] if ids else list(self.sources)
        return [s for s in chosen if not kinds or s.kind in kinds]

    def required_columns(self, entity: EntitySpec) -> list[str]:
        if entity.required is not None:
            return list(entity.required)
        canonical = self.entities.get(entity.name)
        return canonical.required if canonical else []

    # ---- where files land -------------------------------------------------
    def expand_path(self, pattern: str) -> str:
        settings = self.settings
        text = pattern.replace("{landing}", str(settings.landing_root)).replace("{shared}", str(settings.shared_dir))
        if "{pydicom_data}" in text:
            text = text.replace("{pydicom_data}", str(pydicom_data_dir()))
        if not Path(text.split("{")[0]).is_absolute():
            text = str(settings.landing_root / text)
        return text

    def landed_files(self, source: SourceSpec, entity: EntitySpec, date: str | None = None) -> list[tuple[Path, str | None]]:
        """Files matching the entity's pattern, with the extract date captured from ``{date}``.

        ``date`` (YYYY-MM-DD) restricts to one data interval when the pattern has ``{date}``.
        """
        pattern = self.expand_path(entity.path)
        glob = pattern.replace("{date}", date or "*")
        regex = re.compile(
            "^"
            + "".join(
                "(?P<date>\\d{4}-\\d{2}-\\d{2})" if part == "{date}" else fnmatch.translate(part)[4:-3]
                for part in re.split(r"(\{date\})", pattern)
            )
            + "$"
        )
        root = Path(glob.split("*")[0].split("?")[0].split("[")[0])
        anchor = root if root.is_dir() else root.parent
        relative = glob[len(str(anchor)) :].lstrip("/")
        found = []
        for path in sorted(anchor.glob(relative)) if anchor.is_dir() else []:
            if not path.is_file():
                continue
            match = regex.match(str(path))
            found.append((path, match.group("date") if match and "date" in regex.groupindex else None))
        return found


def pydicom_data_dir() -> Path:
    """The data folder of the installed pydicom package (its test files: the ``{pydicom_data}`` placeholder)."""
    from importlib.util import find_spec

    spec = find_spec("pydicom")
    if spec is None or not spec.submodule_search_locations:
        raise RegistryError("placeholder {pydicom_data}: the pydicom package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _format_validation_error(path: Path, raw: dict, exc: ValidationError) -> str:
    lines = [f"{path}: {exc.error_count()} problem(s)"]
    for err in exc.errors():
        loc = list(err["loc"])
        where = []
        if loc and loc[0] == "sources" and len(loc) > 1 and isinstance(loc[1], int):
            try:
                sid = raw["sources"][loc[1]].get("id", "?")
            except (KeyError, IndexError, AttributeError, TypeError):
                sid = "?"
            where.append(f"sources[{loc[1]}] (id {sid})")
            loc = loc[2:]
        where.extend(str(p) for p in loc)
        lines.append(f"  - {' -> '.join(where) or 'top level'}: {err['msg']}")
    return "\n".join(lines)


def _read_yaml(path: Path) -> dict:
    if not path.is_file():
        raise RegistryError(f"{path}: file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise RegistryError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise RegistryError(f"{path}: expected a mapping at the top level")
    return data


def load_entities(path: Path) -> dict[str, CanonicalEntity]:
    raw = _read_yaml(path)
    try:
        return {name: CanonicalEntity.model_validate(spec) for name, spec in (raw.get("entities") or {}).items()}
    except ValidationError as exc:
        raise RegistryError(_format_validation_error(path, raw, exc)) from None


def load_registry(settings: Settings | None = None, path: Path | None = None) -> Registry:
    """Read and validate the registry; raise RegistryError with every problem named."""
    from carelake.config import load_settings

    settings = settings or load_settings()
    path = Path(path or settings.sources_file)
    entities = load_entities(settings.entities_file)
    raw = _read_yaml(path)
    if not isinstance(raw.get("sources"), list):
        raise RegistryError(f"{path}: top-level key 'sources' must be a list of sources")
    try:
        sources = [SourceSpec.model_validate(item) for item in raw["sources"]]
    except ValidationError as exc:
        # re-validate item by item to report the index of the bad source
        problems = []
        for index, item in enumerate(raw["sources"]):
            try:
                SourceSpec.model_validate(item)
            except ValidationError as item_exc:
                sid = item.get("id", "?") if isinstance(item, dict) else "?"
                for err in item_exc.errors():
                    where = " -> ".join(str(p) for p in err["loc"]) or "entry"
                    problems.append(f"  - sources[{index}] (id {sid}) -> {where}: {err['msg']}")
        raise RegistryError(f"{path}: {len(problems)} problem(s)\n" + "\n".join(problems)) from exc
    problems = []
    seen: set[str] = set()
    for index, source in enumerate(sources):
        if source.id in seen:
            problems.append(f"  - sources[{index}] (id {source.id}): duplicate source id")
        seen.add(source.id)
        for entity in source.entities.values():
            canonical = entities.get(entity.name)
            if canonical is None:
                continue
            unknown = [t for t in entity.columns.values() if t not in canonical.columns]
            if unknown:
                problems.append(
                    f"  - sources[{index}] (id {source.id}) -> entities -> {entity.name} -> columns: "
                    f"unknown canonical column(s) {', '.join(unknown)} for entity {entity.name} "
                    f"(see {settings.entities_file.name})"
                )
    if problems:
        raise RegistryError(f"{path}: {len(problems)} problem(s)\n" + "\n".join(problems))
    return Registry(sources=sources, entities=entities, settings=settings)
