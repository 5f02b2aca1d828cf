"""Is a Romanian address one FAN Courier can deliver to? Checked before an AWB is asked for.

The county comes from the address's ISO 3166-2:RO code (`province_code`: "CJ",
"B"…) or its name; the table below is fixed by law, so a wrong county is refused
without any call. The locality is checked against FAN Courier's own list for
that county (`GET reports/localities?county=`), cached for a day per county: it
changes rarely and an AWB for a locality FAN Courier does not know is refused
anyway, later and less clearly.

Names are compared without diacritics, case or punctuation ("Iași" = "IASI",
"Bistrița-Năsăud" = "Bistrita Nasaud"). What can go wrong: a locality spelled
differently from FAN Courier's list ("Sector 3" vs "Bucuresti") is refused with
the field named and the list's nearest names, so the operator can fix the order.
"""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Callable
from typing import Any

from django.core.cache import cache

from config.errors import ValidationError

LOCALITIES_CACHE_SECONDS = 24 * 3600

# ISO 3166-2:RO → the county name FAN Courier uses.
COUNTIES: dict[str, str] = {
    "AB": "Alba", "AR": "Arad", "AG": "Arges", "BC": "Bacau", "BH": "Bihor", "BN": "Bistrita-Nasaud",
    "BT": "Botosani", "BV": "Brasov", "BR": "Braila", "B": "Bucuresti", "BZ": "Buzau", "CS": "Caras-Severin",
    "CL": "Calarasi", "CJ": "Cluj", "CT": "Constanta", "CV": "Covasna", "DB": "Dambovita", "DJ": "Dolj",
    "GL": "Galati", "GR": "Giurgiu", "GJ": "Gorj", "HR": "Harghita", "HD": "Hunedoara", "IL": "Ialomita",
    "IS": "Iasi", "IF": "Ilfov", "MM": "Maramures", "MH": "Mehedinti", "MS": "Mures", "NT": "Neamt", "OT": "Olt",
    "PH": "Prahova", "SM": "Satu Mare", "SJ": "Salaj", "SB": "Sibiu", "SV": "Suceava", "TR": "Teleorman",
    "TM": "Timis", "TL": "Tulcea", "VS": "Vaslui", "VL": "Valcea", "VN": "Vrancea",
}  # fmt: skip


def folded(text: Any) -> str:
    """Lower case, no diacritics, punctuation as single spaces: the form names are compared in."""
    decomposed = unicodedata.normalize("NFKD", str(text or ""))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    return " ".join("".join(c if c.isalnum() else " " for c in plain).split())


_BY_FOLDED_NAME = {folded(name): name for name in COUNTIES.values()}
_BY_FOLDED_NAME["municipiul bucuresti"] = "Bucuresti"


def county_for(address: dict[str, Any]) -> str:
    """The FAN Courier county of a normalized address; ValidationError naming `province_code` otherwise."""
    code = str(address.get("province_code") or "").strip().upper().removeprefix("RO-")
    if code in COUNTIES:
        return COUNTIES[code]
    by_name = _BY_FOLDED_NAME.get(folded(address.get("province") or code))
    if by_name:
        return by_name
    shown = code or "(empty)"
    raise ValidationError(
        f"The shipping address's county {shown!r} is not a Romanian county; no AWB was created.",
        details={"shipping_address.province_code": [f"{shown!r} is not an ISO 3166-2:RO county code"]},
        code="ADDRESS_INVALID",
    )


def check_locality(county: str, locality: str, fetch: Callable[[str], list[dict[str, Any]]]) -> str:
    """FAN Courier's spelling of `locality` in `county`, from its list (fetched through `fetch`, cached a day).

    ValidationError naming `shipping_address.city` when the list does not have it.
    """
    names = _localities(county, fetch)
    wanted = folded(locality)
    if wanted and wanted in names:
        return names[wanted]
    near = difflib.get_close_matches(wanted, list(names), n=3, cutoff=0.75)
    hint = f" Did you mean {', '.join(names[n] for n in near)}?" if near else ""
    shown = locality or "(empty)"
    raise ValidationError(
        f"FAN Courier has no locality {shown!r} in county {county}; no AWB was created.{hint}",
        details={"shipping_address.city": [f"{shown!r} is not a FAN Courier locality of {county}"]},
        code="ADDRESS_INVALID",
    )


def _localities(county: str, fetch: Callable[[str], list[dict[str, Any]]]) -> dict[str, str]:
    key = f"fancourier:localities:{folded(county).replace(' ', '-')}"
    names = cache.get(key)
    if names is None:
        names = {folded(row.get("name")): str(row.get("name")) for row in fetch(county) if row.get("name")}
        if names:  # an empty list is an answer we do not keep: the next AWB asks again
            cache.set(key, names, LOCALITIES_CACHE_SECONDS)
    return names
