"""carelake: turn many hospitals' extracts into a governed Delta lakehouse.

Public API (heavy dependencies are imported on use):

    from carelake import load_settings, load_registry, get_spark, ingest, generate
"""

from carelake.config import Settings, load_settings
from carelake.registry import Registry, RegistryError, load_registry

__version__ = "0.1.0"


def get_spark(settings: Settings | None = None, app_name: str = "carelake"):
    from carelake.spark import get_spark as _get_spark

    return _get_spark(settings, app_name)


def ingest(*args, **kwargs):
    from carelake.ingest import ingest as _ingest

    return _ingest(*args, **kwargs)


def generate(*args, **kwargs):
    from carelake.generate import generate as _generate

    return _generate(*args, **kwargs)


__all__ = ["Settings", "load_settings", "Registry", "RegistryError", "load_registry", "get_spark", "ingest", "generate"]
