"""The data dictionary (``metadata/dictionary/*.yml``, format in its README.md) and the data map (``metadata/data_map.yml``).

:func:`load_dictionary` reads every domain file, fills shared definitions from ``_shared.yml``, resolves each
element's owner and steward from the data map and attaches its sensitivity (category, level) from
``metadata/classification.yml`` - the dictionary never repeats the grading. Format mistakes raise
:class:`DictionaryError` naming the file, element and field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

REQUIRED_FIELDS = ("name_en", "name_zh", "definition", "data_type")
OPTIONAL_FIELDS = ("unit", "value_set", "standard", "owner")
STANDARD_KEYS = ("omop", "national")
INDICATOR_FIELDS = ("name_en", "name_zh", "definition", "formula", "based_on", "domain")


class DictionaryError(ValueError):
    """A dictionary or data-map file is malformed; the message names the file, element and field."""


@dataclass(frozen=True)
class Element:
    """One data element: a column of a table."""

    table: str           # layer.table
    column: str
    domain: str
    name_en: str
    name_zh: str
    definition: str
    data_type: str
    unit: str | None = None
    value_set: object = None
    omop: str | None = None
    national: str | None = None
    owner: str | None = None
    steward: str | None = None
    category: str | None = None
    level: int | None = None
    source_file: str = ""

    @property
    def id(self) -> str:
        return f"{self.table}.{self.column}"


@dataclass(frozen=True)
class Indicator:
    """A derived indicator (``indicators.yml``): a formula over documented columns."""

    name: str
    name_en: str
    name_zh: str
    definition: str
    formula: str
    based_on: tuple[str, ...]
    domain: str
    unit: str | None = None
    standard: dict = field(default_factory=dict)
    owner: str | None = None

    @property
    def id(self) -> str:
        return f"indicator.{self.name}"


@dataclass(frozen=True)
class Domain:
    id: str
    name_en: str
    name_zh: str
    description: str
    owner: str
    steward: str
    core: bool
    bronze: tuple[str, ...]
    silver: tuple[str, ...]
    gold: tuple[str, ...]
    planned: tuple[str, ...]

    def tables(self) -> list[str]:
        return [f"silver.{t}" for t in self.silver] + [f"gold.{t}" for t in self.gold]


@dataclass
class DataMap:
    domains: dict[str, Domain]
    owners: dict[str, dict]
    stewards: dict[str, dict]

    def owner_name(self, key: str) -> str:
        return self.owners.get(key, {}).get("name", key)

    def steward_name(self, key: str) -> str:
        return self.stewards.get(key, {}).get("name", key)

    def domain_of(self, table: str) -> list[str]:
        layer, name = table.split(".", 1)
        return [d.id for d in self.domains.values() if name in getattr(d, layer, ())]

    def planned(self) -> set[str]:
        return {t for d in self.domains.values() for t in d.planned}


@dataclass
class Dictionary:
    elements: dict[str, Element]          # id -> element
    indicators: dict[str, Indicator]      # id -> indicator
    data_map: DataMap
    tables: dict[str, dict]               # layer.table -> {domain, description, file}

    def __len__(self) -> int:
        return len(self.elements) + len(self.indicators)

    def by_table(self) -> dict[str, list[Element]]:
        out: dict[str, list[Element]] = {}
        for element in self.elements.values():
            out.setdefault(element.table, []).append(element)
        return out


def _read_yaml(path: Path) -> dict:
    import yaml

    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise DictionaryError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(doc, dict):
        raise DictionaryError(f"{path}: expected a mapping at the top level")
    return doc


def load_data_map(settings=None, path: Path | None = None) -> DataMap:
    """``metadata/data_map.yml``: domains with owner, steward and their bronze patterns / silver / gold tables."""
    path = Path(path) if path else _metadata_dir(settings) / "data_map.yml"
    doc = _read_yaml(path)
    owners, stewards = doc.get("owners") or {}, doc.get("stewards") or {}
    domains = {}
    for key, spec in (doc.get("domains") or {}).items():
        where = f"{path}: domain {key}"
        for name in ("name_en", "name_zh", "owner", "steward"):
            if not spec.get(name):
                raise DictionaryError(f"{where}: missing {name!r}")
        if spec["owner"] not in owners:
            raise DictionaryError(f"{where}: owner {spec['owner']!r} is not one of owners: {sorted(owners)}")
        if spec["steward"] not in stewards:
            raise DictionaryError(f"{where}: steward {spec['steward']!r} is not one of stewards: {sorted(stewards)}")
        domains[key] = Domain(key, spec["name_en"], spec["name_zh"], " ".join(str(spec.get("description", "")).split()),
                              spec["owner"], spec["steward"], bool(spec.get("core", True)),
                              tuple(spec.get("bronze") or ()), tuple(spec.get("silver") or ()),
                              tuple(spec.get("gold") or ()), tuple(spec.get("planned") or ()))
    return DataMap(domains, owners, stewards)


def _metadata_dir(settings) -> Path:
    from carelake.config import load_settings

    return (settings or load_settings()).metadata_dir


def dictionary_dir(settings=None) -> Path:
    return _metadata_dir(settings) / "dictionary"


def _element(path: Path, domain: str, table: str, column: str, spec: dict, shared: dict, data_map: DataMap,
             classification) -> Element:
    where = f"{path}: {table}.{column}"
    if not isinstance(spec, dict):
        raise DictionaryError(f"{where}: expected a mapping of fields, got {type(spec).__name__}")
    merged = {**shared.get(column, {}), **spec}
    unknown = sorted(set(merged) - set(REQUIRED_FIELDS) - set(OPTIONAL_FIELDS))
    if unknown:
        raise DictionaryError(f"{where}: unknown field(s) {unknown} (allowed: {REQUIRED_FIELDS + OPTIONAL_FIELDS}); "
                              "sensitivity comes from metadata/classification.yml, not the dictionary")
    missing = [f for f in REQUIRED_FIELDS if not merged.get(f)]
    if missing:
        raise DictionaryError(f"{where}: missing {missing} (neither in the file nor in _shared.yml)")
    standard = merged.get("standard") or {}
    if set(standard) - set(STANDARD_KEYS):
        raise DictionaryError(f"{where}: standard: unknown key(s) {sorted(set(standard) - set(STANDARD_KEYS))}")
    dom = data_map.domains[domain]
    graded = classification.classify(table, column, merged["data_type"])
    return Element(table, column, domain, merged["name_en"], merged["name_zh"], " ".join(str(merged["definition"]).split()),
                   str(merged["data_type"]).lower(), merged.get("unit"), merged.get("value_set"), standard.get("omop"),
                   standard.get("national"), merged.get("owner") or data_map.owner_name(dom.owner),
                   data_map.steward_name(dom.steward), graded.category, graded.level, path.name)


def _indicators(path: Path, doc: dict, data_map: DataMap) -> dict[str, Indicator]:
    out = {}
    for name, spec in (doc.get("indicators") or {}).items():
        where = f"{path}: indicator {name}"
        missing = [f for f in INDICATOR_FIELDS if not spec.get(f)]
        if missing:
            raise DictionaryError(f"{where}: missing {missing}")
        if spec["domain"] not in data_map.domains:
            raise DictionaryError(f"{where}: domain {spec['domain']!r} is not in data_map.yml")
        dom = data_map.domains[spec["domain"]]
        indicator = Indicator(name, spec["name_en"], spec["name_zh"], " ".join(str(spec["definition"]).split()),
                              " ".join(str(spec["formula"]).split()), tuple(spec["based_on"]), spec["domain"],
                              spec.get("unit"), dict(spec.get("standard") or {}),
                              spec.get("owner") or data_map.owner_name(dom.owner))
        out[indicator.id] = indicator
    return out


def load_dictionary(settings=None, directory: Path | None = None, data_map: DataMap | None = None) -> Dictionary:
    """Every element and indicator of ``metadata/dictionary``, with owner, steward and classification attached."""
    from carelake.access.classification import load_classification

    directory = Path(directory) if directory else dictionary_dir(settings)
    data_map = data_map or load_data_map(settings)
    classification = load_classification(settings)
    shared_path = directory / "_shared.yml"
    shared = (_read_yaml(shared_path).get("columns") or {}) if shared_path.exists() else {}
    elements: dict[str, Element] = {}
    indicators: dict[str, Indicator] = {}
    tables: dict[str, dict] = {}
    for path in sorted(directory.glob("*.yml")):
        if path.name.startswith("_"):
            continue
        doc = _read_yaml(path)
        domain = doc.get("domain")
        if domain == "indicators":
            indicators.update(_indicators(path, doc, data_map))
            continue
        if domain not in data_map.domains:
            raise DictionaryError(f"{path}: domain {domain!r} is not a domain of data_map.yml "
                                  f"({', '.join(sorted(data_map.domains))})")
        for table, tspec in (doc.get("tables") or {}).items():
            if table.count(".") != 1:
                raise DictionaryError(f"{path}: table {table!r}: name it <layer>.<table>, e.g. gold.person")
            if table in tables:
                raise DictionaryError(f"{path}: table {table} is already documented in {tables[table]['file']}")
            tables[table] = {"domain": domain, "description": " ".join(str(tspec.get("description", "")).split()),
                             "file": path.name}
            for column, spec in (tspec.get("columns") or {}).items():
                element = _element(path, domain, table, column, spec or {}, shared, data_map, classification)
                elements[element.id] = element
    return Dictionary(elements, indicators, data_map, tables)
