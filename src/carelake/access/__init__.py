"""Governed access to the lake: classification, role-based masked views, the audited read API, the audit chain.

    from carelake.access import read_table
    person = read_table("gold.person", role="analyst", user="alice", purpose="cohort sizing")

Config a governance officer reads: ``metadata/classification.yml`` (category and level 1-5 of every
column) and ``metadata/privacy/roles.yml`` (what each role sees, per level). Modules:
:mod:`~carelake.access.classification`, :mod:`~carelake.access.roles` (views),
:mod:`~carelake.access.query` (``carelake query`` and :func:`read_table`), :mod:`~carelake.access.audit`.
"""

from __future__ import annotations

from carelake.access.audit import AUDIT_TABLE, record_access, verify_chain
from carelake.access.query import AccessDenied, query, read_table

__all__ = ["AUDIT_TABLE", "AccessDenied", "query", "read_table", "record_access", "verify_chain"]
