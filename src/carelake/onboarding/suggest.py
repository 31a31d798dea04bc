"""A proposed registry entry for a new source (``carelake sources suggest <folder> --id <source>``).

From the profile of the folder: one entity per file layout (daily copies of one file, told apart by a
``YYYY-MM-DD`` folder, become one ``{date}`` pattern), chosen by how many of the file's columns are
synonyms of the canonical entity's columns (``metadata/onboarding/synonyms.yml`` plus every mapping
already in the registry) and by words in the file name; per column a canonical name with a confidence:
1.0 for a known synonym, less for a near spelling or a guess from the values (ID numbers, ICD-10
codes...). Guesses below 0.9 carry a ``TODO confirm`` comment, columns without a candidate a ``TODO``
line (they would be kept under their own name). Formats and encodings come from the profile. A
person reviews the YAML and adds it to ``metadata/sources.yml``.
"""

from __future__ import annotations

import difflib
import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from carelake.onboarding.profile import FileProfile, profile_folder

SURE = 0.9  # below: a "TODO confirm" comment
LIKELY = 0.7  # below: not mapped, a TODO line
_DATE_DIR = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# value-based guesses when the name says nothing: (profile attribute, value, canonical column, confidence)
VALUE_HINTS = (("pii", "resident_id", "id_number", 0.75), ("pii", "phone", "phone", 0.7), ("pii", "name", "name", 0.7),
               ("code_system", "ICD-10", "diagnosis_code", 0.75), ("code_system", "LOINC", "lab_code", 0.75),
               ("code_system", "RxNorm", "drug_code", 0.7))


def normalise(name: str) -> str:
    return re.sub(r"[\s_\-./()（）]+", "", name.strip().lower())


@dataclass
class ColumnSuggestion:
    column: str
    target: str | None
    confidence: float
    why: str


@dataclass
class EntitySuggestion:
    entity: str
    path: str
    profile: FileProfile
    score: float
    columns: list[ColumnSuggestion] = field(default_factory=list)

    def mapping(self) -> dict[str, str]:
        return {c.column: c.target for c in self.columns if c.target and c.confidence >= LIKELY}


@dataclass
class Suggestion:
    source_id: str
    format: str
    options: dict
    entities: list[EntitySuggestion]
    notes: list[str] = field(default_factory=list)

    def mapping(self) -> dict[str, dict[str, str]]:
        return {e.entity: e.mapping() for e in self.entities}

    def entry(self) -> dict:
        """The proposed entry as a dict (what the YAML holds, without the comments)."""
        return yaml.safe_load(self.to_yaml())[0]

    def to_yaml(self) -> str:
        q = lambda v: json.dumps(v, ensure_ascii=False)  # noqa: E731 - JSON strings are valid YAML scalars
        lines = [f"# proposed by `carelake sources suggest` - review every TODO, then add to metadata/sources.yml",
                 *(f"# NOTE {n}" for n in self.notes),
                 f"- id: {self.source_id}", f"  name: {q('TODO: name of ' + self.source_id)}", "  kind: hospital",
                 f"  format: {self.format}", "  schedule: daily"]
        if self.options:
            lines.append("  csv:")
            lines += [f"    {k}: {q(v)}" for k, v in self.options.items()]
        lines.append("  entities:")
        for e in self.entities:
            lines += [f"    {e.entity}:  # {Path(e.profile.path).name}, entity score {e.score:.2f}", f"      path: {q(e.path)}"]
            if e.profile.sheet:
                lines.append(f"      sheet: {q(e.profile.sheet)}")
            if e.profile.format == "xlsx" and e.profile.header_row != 1:
                lines.append(f"      header_row: {e.profile.header_row}")
            mapped = e.mapping()
            lines.append("      columns:" if mapped else "      columns: {}")
            for c in e.columns:
                if c.column in mapped:
                    todo = "" if c.confidence >= SURE else " TODO confirm"
                    lines.append(f"        {q(c.column)}: {c.target}  # {c.confidence:.2f} {c.why}{todo}")
                else:
                    guess = f" (best guess {c.target}, {c.confidence:.2f})" if c.target else ""
                    lines.append(f"        # TODO {q(c.column)}: no canonical column found{guess}; kept under its own name")
        return "\n".join(lines) + "\n"


def synonym_index(settings, registry=None) -> dict[str, set[str]]:
    """normalised source column name -> canonical columns it is a synonym of (dictionary + registry)."""
    data = yaml.safe_load((settings.metadata_dir / "onboarding" / "synonyms.yml").read_text(encoding="utf-8"))
    index: dict[str, set[str]] = defaultdict(set)
    for target, names in data["columns"].items():
        for name in [target, *names]:
            index[normalise(str(name))].add(target)
    for source in registry.sources if registry else []:
        for entity in source.entities.values():
            for column, target in entity.columns.items():
                if "." not in column and "[" not in column:  # FHIR paths are no file headers
                    index[normalise(column)].add(target)
    return index


def entity_words(settings) -> dict[str, list[str]]:
    data = yaml.safe_load((settings.metadata_dir / "onboarding" / "synonyms.yml").read_text(encoding="utf-8"))
    return {entity: [normalise(w) for w in words] for entity, words in data["entities"].items()}


def _name_hint(name: str, words: list[str]) -> bool:
    stem = normalise(Path(name).stem)
    parts = set(re.split(r"[^0-9a-z\u4e00-\u9fff]+", Path(name).stem.lower()))
    return any(w in parts or (len(w) > 3 and w in stem) or (not w.isascii() and w in stem) for w in words)


def choose_entity(profile: FileProfile, registry, index, words) -> tuple[str, float]:
    header = [normalise(h) for h in profile.header]
    best, best_score = "TODO_entity", 0.0
    for name, canonical in registry.entities.items():
        hits = {t for h in header for t in index.get(h, ()) if t in canonical.columns}
        required = canonical.required
        score = len(hits) / max(len(header), 1) + 0.5 * (sum(r in hits for r in required) / max(len(required), 1))
        hint = _name_hint(Path(profile.path).name, words.get(name, [])) or (
            profile.sheet is not None and _name_hint(profile.sheet, words.get(name, [])))
        score += 0.3 if hint else 0.0
        if score > best_score:
            best, best_score = name, score
    return best, best_score


def map_columns(profile: FileProfile, entity_columns: dict, index) -> list[ColumnSuggestion]:
    candidates = {name: {t for t in targets if t in entity_columns} for name, targets in index.items()}
    candidates = {k: v for k, v in candidates.items() if v}
    out = []
    for column in profile.columns:
        key = normalise(column.name)
        exact = sorted(candidates.get(key, ()))
        if exact:
            out.append(ColumnSuggestion(column.name, exact[0], 1.0, "synonym"))
            continue
        close = difflib.get_close_matches(key, list(candidates), n=1, cutoff=0.75)
        if close:
            ratio = difflib.SequenceMatcher(None, key, close[0]).ratio()
            out.append(ColumnSuggestion(column.name, sorted(candidates[close[0]])[0], round(0.9 * ratio, 2), f"near {close[0]!r}"))
            continue
        hint = next(((target, conf) for attr, value, target, conf in VALUE_HINTS
                     if getattr(column, attr) == value and target in entity_columns), None)
        if hint:
            out.append(ColumnSuggestion(column.name, hint[0], hint[1], f"values look like {getattr(column, 'pii') or column.code_system}"))
        else:
            out.append(ColumnSuggestion(column.name, None, 0.0, "no candidate"))
    # one source column per canonical column: the most confident keeps it
    by_target: dict[str, list[ColumnSuggestion]] = defaultdict(list)
    for s in out:
        if s.target:
            by_target[s.target].append(s)
    for target, claims in by_target.items():
        for loser in sorted(claims, key=lambda s: -s.confidence)[1:]:
            loser.confidence, loser.why = min(loser.confidence, LIKELY - 0.01), f"{target} already taken"
    return out


def _path_pattern(folder: Path, path: Path, source_id: str) -> str:
    parts = ["{date}" if _DATE_DIR.match(p) else p for p in path.relative_to(folder).parts]
    return "{landing}/" + "/".join([source_id, *parts])


def _common(values) -> str | None:
    found = Counter(v for v in values if v)
    return found.most_common(1)[0][0] if found else None


def suggest(folder: Path, source_id: str, registry, settings) -> Suggestion:
    folder = Path(folder)
    profiles = [p for p in profile_folder(folder) if p.format in {"csv", "xlsx"} and not p.error and p.columns]
    layouts: dict[str, FileProfile] = {}
    for p in profiles:
        layouts.setdefault(_path_pattern(folder, Path(p.path), source_id), p)
    formats = Counter(p.format for p in layouts.values())
    fmt = formats.most_common(1)[0][0] if formats else "csv"
    notes = [f"files in format {f} are left out: one source has one format" for f in formats if f != fmt]
    chosen = [p for p in layouts.values() if p.format == fmt]
    index, words = synonym_index(settings, registry), entity_words(settings)
    columns = [c for p in chosen for c in p.columns]
    options: dict = {}
    if fmt == "csv":
        options = {"encoding": _common(p.encoding for p in chosen), "delimiter": _common(p.delimiter for p in chosen),
                   "quotechar": _common(p.quotechar for p in chosen)}
        if len({(p.encoding, p.delimiter) for p in chosen}) > 1:
            notes.append("files differ in encoding or delimiter: split them into one source per layout")
        if any(p.header_row != 1 for p in chosen):
            notes.append("a CSV header is not on line 1: the CSV reader expects it there")
    options["header_language"] = _common(p.header_language for p in chosen) or "en"
    date_format = _common(c.date_format for c in columns if c.type == "date")
    datetime_format = _common(c.date_format for c in columns if c.type == "datetime" and c.date_format != "iso8601")
    if fmt == "xlsx":
        date_format, datetime_format = "%Y-%m-%d", "%Y-%m-%d %H:%M:%S"  # how the xlsx reader writes date cells
    if date_format:
        options["date_format"] = date_format
    if datetime_format:
        options["datetime_format"] = datetime_format
    entities: list[EntitySuggestion] = []
    taken: set[str] = set()
    for pattern, p in layouts.items():
        if p.format != fmt:
            continue
        entity, score = choose_entity(p, registry, index, words)
        if entity in taken:
            notes.append(f"{Path(p.path).name}: also looks like {entity}; left out (one file layout per entity)")
            continue
        taken.add(entity)
        canonical = registry.entities[entity].columns if entity in registry.entities else {}
        entities.append(EntitySuggestion(entity, pattern, p, round(score, 2), map_columns(p, canonical, index)))
    return Suggestion(source_id, fmt, options, entities, notes)
