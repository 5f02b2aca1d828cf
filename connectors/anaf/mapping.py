"""An ANAF `found` item → the VAT registration we answer with.

`{"cui": "RO14399840", "found": true, "name", "address", "vat_payer": bool, "vat_payer_since": "YYYY-MM-DD"|None,
"registration_status", "inactive": bool, "trade_register_number", "e_invoice": bool, "checked_on": "YYYY-MM-DD"}`.
A CUI ANAF does not know is `{"cui", "found": false, "vat_payer": false, "checked_on"}`.
"""

from __future__ import annotations

from datetime import date
from typing import Any


def _section(item: dict[str, Any], key: str) -> dict[str, Any]:
    value = item.get(key)
    return value if isinstance(value, dict) else {}


def normalize_found(item: dict[str, Any], *, checked_on: date) -> dict[str, Any]:
    general = _section(item, "date_generale")
    vat = _section(item, "inregistrare_scop_Tva")
    inactive = _section(item, "stare_inactiv")
    periods = [p for p in vat.get("perioade_TVA") or [] if isinstance(p, dict)]
    open_periods = [p for p in periods if not p.get("data_sfarsit_ScpTVA")]
    since = (open_periods or periods or [{}])[0].get("data_inceput_ScpTVA") or None
    return {
        "cui": f"RO{general.get('cui')}",
        "found": True,
        "name": str(general.get("denumire") or "").strip(),
        "address": str(general.get("adresa") or "").strip(),
        "vat_payer": bool(vat.get("scpTVA")),
        "vat_payer_since": since if vat.get("scpTVA") else None,
        "registration_status": str(general.get("stare_inregistrare") or "").strip(),
        "inactive": bool(inactive.get("statusInactivi")),
        "trade_register_number": str(general.get("nrRegCom") or "").strip(),
        "e_invoice": bool(general.get("statusRO_e_Factura")),
        "checked_on": str(general.get("data") or checked_on.isoformat()),
    }


def not_found(cui: int, *, checked_on: date) -> dict[str, Any]:
    return {"cui": f"RO{cui}", "found": False, "name": "", "address": "", "vat_payer": False,
            "vat_payer_since": None, "registration_status": "", "inactive": False, "trade_register_number": "",
            "e_invoice": False, "checked_on": checked_on.isoformat()}
