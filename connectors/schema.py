"""The routes providers call in their URL modules, in `/api/schema/` (a drf-spectacular postprocessing hook).

A registered connector's `urls_module` may hold `OPENAPI_PATHS`, the path items
of its routes as the provider calls them (config/schema.py has the helpers).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from config.schema import add_paths

from . import registry


def add_provider_routes(result: dict[str, Any], generator, request, public) -> dict[str, Any]:
    for module in registry.urls_modules():
        add_paths(result, getattr(import_module(module), "OPENAPI_PATHS", {}))
    return result
