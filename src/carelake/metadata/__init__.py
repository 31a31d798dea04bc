"""Metadata of the lake: data map, data dictionary, lineage and the catalogue site.

    carelake metadata check                      # dictionary + data map + master-data registry vs the live catalog
    carelake lineage gold.person.year_of_birth   # gold column -> silver -> bronze columns -> source files
    carelake catalogue                           # static HTML catalogue under <lake>/_catalogue

Config a governance officer reads: ``metadata/data_map.yml`` (domains, owners, stewards, tables),
``metadata/master_data.yml`` (master-data registry), ``metadata/dictionary/`` (data elements and indicators;
format in its README.md). Modules: :mod:`~carelake.metadata.dictionary`, :mod:`~carelake.metadata.check`,
:mod:`~carelake.metadata.lineage`, :mod:`~carelake.metadata.catalogue`.
"""

from __future__ import annotations

from carelake.metadata.dictionary import DictionaryError, load_data_map, load_dictionary

__all__ = ["DictionaryError", "load_data_map", "load_dictionary"]
