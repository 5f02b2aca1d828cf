"""VAT registration lookups: every CUI checked before any call, cached a day, the rest asked in batches.

`vat_lookup(integration=…, cuis=[…])` answers `{cui as given: registration}` in
the caller's order. Steps: every CUI is validated first (one bad one refuses
the whole request with its index named, and nothing is called); the day-long
cache answers what it can (a second lookup of a CUI within a day makes no
call); the rest go to ANAF in batches of MAX_PER_REQUEST, one request per second
(client.py). ANAF answers as of today's date in Romania.

What can go wrong: ANAF is often slow or down (5xx, timeouts): the HTTP client
retries and then raises ProviderUnavailable; batches answered before the failure
stay cached, so a retry asks only for the rest.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.core.cache import cache

from config.errors import IntegrationNotFound, ValidationError
from connectors import registry
from integrations.models import Integration, IntegrationStatus

from .client import MAX_PER_REQUEST
from .cui import normalize_cui
from .mapping import normalize_found, not_found

CACHE_SECONDS = 24 * 3600
MAX_CUIS = 500  # per lookup (five ANAF requests, five seconds)
ROMANIA = ZoneInfo("Europe/Bucharest")


def cache_key(cui: int) -> str:
    return f"anaf:vat:{cui}"


def anaf_integration_for(organization) -> Integration:
    """The organization's ANAF integration (active first); INTEGRATION_NOT_FOUND when it has none usable."""
    found = (Integration.objects.filter(organization=organization, provider="anaf")
             .exclude(status=IntegrationStatus.INACTIVE).order_by("status", "pk").first())
    if found is None:
        raise IntegrationNotFound("This organization has no ANAF integration; add one (provider anaf, type tax).")
    return found


def vat_lookup(*, integration: Integration, cuis: list[Any]) -> dict[str, dict[str, Any]]:
    if not cuis:
        raise ValidationError("Give at least one CUI.", details={"cui": ["required"]})
    if len(cuis) > MAX_CUIS:
        raise ValidationError(f"At most {MAX_CUIS} CUIs per lookup.", details={"cuis": [f"more than {MAX_CUIS}"]})
    numbers: dict[str, int] = {}
    errors: dict[str, list[str]] = {}
    for index, given in enumerate(cuis):
        try:
            numbers[str(given)] = normalize_cui(given)
        except ValidationError as exc:
            if len(cuis) == 1:
                raise
            errors[str(index)] = [exc.message]
    if errors:
        raise ValidationError(f"{len(errors)} of the CUIs are not valid; nothing was looked up.",
                              details={"cuis": errors})

    wanted = sorted(set(numbers.values()))
    cached = cache.get_many([cache_key(n) for n in wanted])
    known: dict[int, dict[str, Any]] = {n: cached[cache_key(n)] for n in wanted if cache_key(n) in cached}
    missing = [n for n in wanted if n not in known]
    if missing:
        connector = registry.connector_for(integration)
        today = datetime.now(ROMANIA).date()
        for start in range(0, len(missing), MAX_PER_REQUEST):
            batch = missing[start:start + MAX_PER_REQUEST]
            answer = connector.vat_status(batch, on=today)
            fresh = {n: not_found(n, checked_on=today) for n in batch}
            for item in answer.get("found") or []:
                if not isinstance(item, dict):
                    continue
                result = normalize_found(item, checked_on=today)
                number = int(result["cui"][2:]) if result["cui"][2:].isdigit() else None
                if number in fresh:
                    fresh[number] = result
            cache.set_many({cache_key(n): r for n, r in fresh.items()}, CACHE_SECONDS)
            known.update(fresh)
    return {given: known[number] for given, number in numbers.items()}
