"""The catalogue port: what a connector may ask of the ERP's products, from below commerce.

A file store that attaches images to products (matched by the SKU in a file's
name) has to know which SKUs the organization sells. Products live in
`commerce`, a floor above connectors, so it asks through `Catalogue`, declared
here and implemented by commerce (`commerce/services/catalogue.py`), which
installs it when the app registry is ready, as it installs the order book
(connectors/payments.py). The port answers plain values (product ids by SKU),
never commerce's rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from django.core.exceptions import ImproperlyConfigured


class Catalogue(Protocol):
    def product_ids_by_sku(self, *, organization_id: int, skus: Iterable[str]) -> dict[str, int]:
        """The organization's products among `skus` (exact SKUs): {sku: product id}; unknown SKUs are absent."""
        ...


_installed: dict[str, Catalogue] = {}


def catalogue_install(catalogue: Catalogue) -> None:
    """Called once by the commerce app; a second call (tests reloading apps) replaces the first."""
    _installed["catalogue"] = catalogue


def catalogue() -> Catalogue:
    try:
        return _installed["catalogue"]
    except KeyError:
        raise ImproperlyConfigured("No catalogue: the commerce app is not installed or not ready.") from None
