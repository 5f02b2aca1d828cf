"""Which product an image file is of: the SKU its name carries.

Merchants name images after the product: `ABC-123.jpg`, `ABC-123_2.jpg`, `ABC-123 (1).png`,
`ABC-123-front.webp`. SKUs often contain `-` themselves, so a name is not split on one guess: every prefix of
the name (without its extension) that ends before a separator (`_`, space, `(`, `-`, `.`, `@`), and the whole
name, is a candidate, and the longest candidate that is one of the organization's SKUs wins (exactly, case
included: `abc-123` is another SKU than `ABC-123`). A name matching no SKU links to nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

SEPARATORS = frozenset("_ (-.@")


def sku_candidates(file_name: str) -> list[str]:
    """The SKUs a file name may carry, longest first."""
    stem = file_name.rsplit(".", 1)[0] if "." in file_name.strip(".") else file_name
    stem = stem.strip()
    found = {stem[:index].strip() for index, char in enumerate(stem) if char in SEPARATORS and index > 0}
    found.add(stem)
    return sorted((c for c in found if c), key=len, reverse=True)


def match_skus(file_names: Iterable[str], known_skus: Iterable[str]) -> dict[str, str]:
    """{file name: the SKU it carries} for the names that carry one of `known_skus`."""
    known = set(known_skus)
    matched = {}
    for name in file_names:
        for candidate in sku_candidates(name):
            if candidate in known:
                matched[name] = candidate
                break
    return matched


def is_image(mime_type: str) -> bool:
    return mime_type.startswith("image/")
