"""Amazon marketplaces: id → (selling region, Seller Central host), and picking an integration's region from them.

SP-API serves each marketplace from one of three regional hosts (client.py's
REGION_HOSTS); a seller authorizes an app on the Seller Central of the
marketplace it sells on. Source: developer-docs.amazon.com "SP-API Endpoints"
and "Marketplace IDs" (looked up for this connector).
"""

from __future__ import annotations

from typing import Any

from config.errors import ValidationError

EUROPE = "https://sellercentral-europe.amazon.com"
MARKETPLACES: dict[str, tuple[str, str, str]] = {  # id: (country, region, Seller Central)
    "A2EUQ1WTGCTBG2": ("CA", "na", "https://sellercentral.amazon.ca"),
    "ATVPDKIKX0DER": ("US", "na", "https://sellercentral.amazon.com"),
    "A1AM78C64UM0Y8": ("MX", "na", "https://sellercentral.amazon.com.mx"),
    "A2Q3Y263D00KWC": ("BR", "na", "https://sellercentral.amazon.com.br"),
    "A28R8C7NBKEWEA": ("IE", "eu", "https://sellercentral.amazon.ie"),
    "A1RKKUPIHCS9HS": ("ES", "eu", EUROPE),
    "A1F83G8C2ARO7P": ("GB", "eu", EUROPE),
    "A13V1IB3VIYZZH": ("FR", "eu", EUROPE),
    "AMEN7PMS3EDWL": ("BE", "eu", "https://sellercentral.amazon.com.be"),
    "A1805IZSGTT6HS": ("NL", "eu", "https://sellercentral.amazon.nl"),
    "A1PA6795UKMFR9": ("DE", "eu", EUROPE),
    "APJ6JRA9NG5V4": ("IT", "eu", EUROPE),
    "A2NODRKZP88ZB9": ("SE", "eu", "https://sellercentral.amazon.se"),
    "AE08WJ6YKNBMC": ("ZA", "eu", "https://sellercentral.amazon.co.za"),
    "A1C3SOZRARQ6R3": ("PL", "eu", "https://sellercentral.amazon.pl"),
    "ARBP9OOSHTCHU": ("EG", "eu", "https://sellercentral.amazon.eg"),
    "A33AVAJ2PDY3EV": ("TR", "eu", "https://sellercentral.amazon.com.tr"),
    "A17E79C6D8DWNP": ("SA", "eu", "https://sellercentral.amazon.com.sa"),
    "A2VIGQ35RCS4UG": ("AE", "eu", "https://sellercentral.amazon.ae"),
    "A21TJRUUN4KGV": ("IN", "eu", "https://sellercentral.amazon.in"),
    "A19VAU5U5O7RUS": ("SG", "fe", "https://sellercentral.amazon.sg"),
    "A39IBJ37TRP1C6": ("AU", "fe", "https://sellercentral.amazon.com.au"),
    "A1VC38T7YXB528": ("JP", "fe", "https://sellercentral.amazon.co.jp"),
}


def marketplace_ids(value: Any) -> list[str]:
    """The marketplace ids of `config["marketplace_ids"]` (a list or a comma-separated string), checked.

    ValidationError when there are none, one is unknown, or they span regions (one
    integration talks to one regional host: connect a second integration for another region).
    """
    raw = value.split(",") if isinstance(value, str) else list(value or [])
    ids = [str(v).strip() for v in raw if str(v).strip()]
    if not ids:
        raise ValidationError("An Amazon integration needs its marketplace ids in config['marketplace_ids'], "
                              "e.g. [\"A1PA6795UKMFR9\"] for amazon.de.",
                              details={"config": ["marketplace_ids is required"]})
    unknown = [i for i in ids if i not in MARKETPLACES]
    if unknown:
        raise ValidationError(f"Unknown Amazon marketplace id(s): {', '.join(unknown)}.",
                              details={"config": [f"marketplace_ids: {', '.join(unknown)} unknown"]})
    regions = {MARKETPLACES[i][1] for i in ids}
    if len(regions) > 1:
        raise ValidationError("The marketplaces of one Amazon integration must share a region (NA, EU or FE).",
                              details={"config": [f"marketplace_ids span {', '.join(sorted(regions))}"]})
    return ids


def region_of(ids: list[str]) -> str:
    return MARKETPLACES[ids[0]][1]


def seller_central(ids: list[str]) -> str:
    return MARKETPLACES[ids[0]][2]
