"""Privacy: PII detection (Presidio, Chinese recognizers), scans of silver, and de-identification before gold.

Policy: metadata/privacy/deidentification.yml. Public API::

    from carelake.privacy import analyze_text, deidentify_step, scan_lake
"""

from __future__ import annotations

__all__ = ["analyze_text", "deidentify_step", "scan_lake"]


def __getattr__(name: str):  # heavy imports (Presidio, spaCy, Spark) only when used
    if name == "analyze_text":
        from carelake.privacy.analyzer import analyze_text

        return analyze_text
    if name == "deidentify_step":
        from carelake.privacy.deidentify import deidentify_step

        return deidentify_step
    if name == "scan_lake":
        from carelake.privacy.scan import scan_lake

        return scan_lake
    raise AttributeError(name)
