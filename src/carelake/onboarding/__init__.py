"""Onboarding a new source: ``profile`` its files, ``suggest`` a registry entry, ``check`` it dry.

* :mod:`carelake.onboarding.profile` - what a folder of extracts looks like (encoding, delimiter,
  header, types, date formats, code systems, keys, PII, malformed rows);
* :mod:`carelake.onboarding.suggest` - a proposed ``metadata/sources.yml`` entry from a profile and the
  synonym dictionary ``metadata/onboarding/synonyms.yml``;
* :mod:`carelake.onboarding.check` - a dry run of an entry over its landed files (writes nothing).
"""
