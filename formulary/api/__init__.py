"""The JSON API (``/api/v1``): thin routes over the same services as the pages.

Each area declares its routes in a module ``formulary/api/routes_<area>.py`` with
``@api_route(...)``; the modules are imported when the blueprint is registered, and every
declared route appears in ``/api/v1/openapi.json``.
"""

import importlib
import pkgutil

from formulary.api.core import bp


def load_routes() -> None:
    for module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if module.name.startswith("routes_"):
            importlib.import_module(f"{__name__}.{module.name}")


__all__ = ["bp", "load_routes"]
