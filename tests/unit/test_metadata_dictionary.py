"""The dictionary and data map files load, reference real OMOP fields, and format mistakes are named precisely."""

from __future__ import annotations

import shutil

import pytest
import yaml

from carelake.config import load_settings
from carelake.metadata.check import omop_fields
from carelake.metadata.dictionary import DictionaryError, dictionary_dir, load_data_map, load_dictionary


@pytest.fixture(scope="module")
def settings():
    return load_settings()


def test_data_map_has_twelve_core_domains_with_owner_and_steward(settings):
    data_map = load_data_map(settings)
    core = [d for d in data_map.domains.values() if d.core]
    assert len(core) == 12
    for domain in data_map.domains.values():
        assert domain.owner in data_map.owners and domain.steward in data_map.stewards
        assert domain.bronze or domain.silver or domain.gold, domain.id


def test_dictionary_loads_with_classification_and_valid_omop_fields(settings):
    dictionary = load_dictionary(settings)
    assert len(dictionary.elements) >= 300
    assert all(e.level in (1, 2, 3, 4, 5) and e.category for e in dictionary.elements.values())
    fields = omop_fields(settings)
    assert fields, "OMOP spec CSV not found: ../shared/data/reference/omop-cdm-5.4 must be beside the checkout"
    wrong = [(e.id, e.omop) for e in dictionary.elements.values() if e.omop and e.omop.lower() not in fields]
    assert wrong == []
    for indicator in dictionary.indicators.values():
        for ref in indicator.based_on:
            table, _, column = ref.rpartition(".")
            assert f"{table}.{column}" in dictionary.elements, f"{indicator.id} reads undocumented {ref}"


@pytest.mark.parametrize("edit, message", [
    (lambda col: col.pop("name_zh"), r"patient\.yml: gold\.person\.year_of_birth: missing \['name_zh'\]"),
    (lambda col: col.update(sensitivity=3), r"unknown field\(s\) \['sensitivity'\].*classification\.yml"),
    (lambda col: col.update(standard={"loinc": "x"}), r"standard: unknown key\(s\) \['loinc'\]"),
])
def test_format_mistakes_name_the_file_element_and_field(settings, tmp_path, edit, message):
    folder = tmp_path / "dictionary"
    shutil.copytree(dictionary_dir(settings), folder)
    doc = yaml.safe_load((folder / "patient.yml").read_text(encoding="utf-8"))
    edit(doc["tables"]["gold.person"]["columns"]["year_of_birth"])
    (folder / "patient.yml").write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    with pytest.raises(DictionaryError, match=message):
        load_dictionary(settings, directory=folder)


def test_a_table_documented_twice_is_refused(settings, tmp_path):
    folder = tmp_path / "dictionary"
    shutil.copytree(dictionary_dir(settings), folder)
    shutil.copy(folder / "encounter.yml", folder / "encounter_copy.yml")
    with pytest.raises(DictionaryError, match="gold.visit_occurrence is already documented in encounter"):
        load_dictionary(settings, directory=folder)
