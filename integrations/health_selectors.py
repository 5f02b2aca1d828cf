"""An integration's health as people see it: one computation for the dashboard, the integration list, the
integration page and the API (`health` in GET /api/integrations/ and /api/integrations/{id}/).

The states, worst first:

==============  ==================================================================================
error           its secrets cannot be read (a key missing from this process's ring), status `error`,
                or most of its calls in the last 24 h failed
needs_reauth    status `pending_auth`, or an access token that expired with no refresh token
paused          switched off (`inactive`, `testing`): nothing is scheduled
degraded        any of: failures in a row, the last sync failed, over 5 % of its calls failed
                (24 h, at least 5 calls), incoming webhooks failing — failed in 24 h or retrying
                after an error (a retry with an error is a failure, not a backlog) —, a failing
                outgoing endpoint of the integration or of its organization (an organization-wide
                endpoint carries this integration's events too), a scheduled sync overdue, an
                access token expiring within 3 days with no refresh token
ok              none of these
==============  ==================================================================================

`reasons` lists the state's cause first, then every other problem found, so a paused or re-auth integration
still shows its failing webhooks. `status` is configuration and bookkeeping (written by health.py and users);
this is a reading of it and of what the integration did lately, never stored.

Where the facts come from. The integrations app reads its own tables (the row, its secrets' key ids, its
call log). The webhooks and syncjobs apps sit above it, so they register a *health source* each
(webhooks/health_facts.py, syncjobs/health_facts.py, from their AppConfig.ready), as webhooks installs its
event recorder in integrations/events.py: the rules stay here, each app's queries stay with its tables, and
no import points up. Every source answers for a whole page of integrations in one or two GROUP BY queries, so
`integrations_health` costs the same few queries for 2 integrations or 200.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from django.db.models import Count, Q, TextField
from django.db.models.functions import Cast, Substr
from django.utils import timezone

from .encryption import TOKEN_PREFIX, KeyRing, key_ring
from .models import SECRET_FIELDS, Integration, IntegrationLog, IntegrationStatus

WINDOW = timedelta(hours=24)
# Calls failing above this share (with at least MIN_CALLS calls in WINDOW) make an integration degraded; above
# ERROR_RATE_ERROR, in error.
ERROR_RATE_DEGRADED = 0.05
ERROR_RATE_ERROR = 0.5
MIN_CALLS = 5
# An access token without a refresh token expiring within this is worth a warning.
TOKEN_WARNING = timedelta(days=3)
# A scheduled sync this late is overdue.
SYNC_OVERDUE = timedelta(hours=1)


class Health:
    OK = "ok"
    DEGRADED = "degraded"
    ERROR = "error"
    REAUTH = "needs_reauth"
    PAUSED = "paused"

    LABELS = {OK: "OK", DEGRADED: "Degraded", ERROR: "Error", REAUTH: "Needs re-auth", PAUSED: "Paused"}
    STATES = (OK, DEGRADED, ERROR, REAUTH, PAUSED)


@dataclass
class HealthFacts:
    """What the sources found about one integration; every count is 0 until a source fills it."""

    calls: int = 0  # provider calls in WINDOW
    call_errors: int = 0
    unreadable_key_ids: list[str] = field(default_factory=list)  # keys its stored secrets need, not in the ring
    has_refresh_token: bool = False
    webhooks_pending: int = 0  # incoming, waiting or being processed (the backlog, retrying ones included)
    webhooks_retrying: int = 0  # of those, retrying after an error: failing
    webhooks_failed: int = 0  # incoming, failed, received in WINDOW
    endpoints_failing: int = 0  # outgoing endpoints of this integration failing or disabled for failing
    organization_endpoints_failing: int = 0  # organization-wide ones (no integration), failing
    last_job_id: int | None = None
    last_job_status: str | None = None
    last_job_type: str | None = None
    running_job_id: int | None = None

    @property
    def webhooks_failing(self) -> int:
        return self.webhooks_retrying + self.webhooks_failed


@dataclass
class IntegrationHealth:
    state: str
    reasons: list[str]
    facts: HealthFacts

    @property
    def label(self) -> str:
        return Health.LABELS[self.state]

    def as_dict(self) -> dict[str, Any]:
        """The API's `health` object (integrations/serializers.py HealthSerializer documents it)."""
        facts = self.facts
        return {
            "state": self.state, "label": self.label, "reasons": self.reasons,
            "calls_24h": facts.calls, "call_errors_24h": facts.call_errors,
            "webhooks_retrying": facts.webhooks_retrying, "webhooks_failed_24h": facts.webhooks_failed,
            "endpoints_failing": facts.endpoints_failing,
            "organization_endpoints_failing": facts.organization_endpoints_failing,
            "last_sync_status": facts.last_job_status,
            "secrets_readable": not facts.unreadable_key_ids,
        }


class HealthSource(Protocol):
    def __call__(self, *, integrations: list[Integration], facts: dict[int, HealthFacts], since: datetime,
                 now: datetime) -> None: ...


_SOURCES: list[Callable[..., None]] = []


def health_source_register(source: HealthSource) -> None:
    """Add a source of facts (an app above integrations calls it from its AppConfig.ready); idempotent."""
    if source not in _SOURCES:
        _SOURCES.append(source)


def integrations_health(integrations: Iterable[Integration], *, now: datetime | None = None
                        ) -> dict[int, IntegrationHealth]:
    """{integration id: its health} for these integrations (a page of them: a fixed number of queries)."""
    integrations = [i for i in integrations if i.pk is not None]
    now = now or timezone.now()
    since = now - WINDOW
    facts = {i.pk: HealthFacts() for i in integrations}
    if integrations:
        for source in (_calls, _secrets, *_SOURCES):
            source(integrations=integrations, facts=facts, since=since, now=now)
    return {i.pk: _judge(i, facts[i.pk], now) for i in integrations}


def integration_health(integration: Integration, *, now: datetime | None = None) -> IntegrationHealth:
    return integrations_health([integration], now=now)[integration.pk]


# ---------------------------------------------------------------- this app's own facts
def _calls(*, integrations: list[Integration], facts: dict[int, HealthFacts], since: datetime, **_: Any) -> None:
    error = Q(status_code__gte=400) | ~Q(error_message="")
    rows = (IntegrationLog.objects.filter(integration_id__in=list(facts), created_at__gte=since).order_by()
            .values("integration_id").annotate(total=Count("pk"), errors=Count("pk", filter=error)))
    for row in rows:
        facts[row["integration_id"]].calls, facts[row["integration_id"]].call_errors = row["total"], row["errors"]


def _secrets(*, integrations: list[Integration], facts: dict[int, HealthFacts], **_: Any) -> None:
    """The key id each stored secret names (its stored token's `enc1:<key id>` head: nothing is decrypted), and
    whether a refresh token is stored. One query, whatever the page's rows have loaded or deferred."""
    width = len(TOKEN_PREFIX) + 1 + 8
    heads = {f"_head_{name}": Substr(Cast(name, output_field=TextField()), 1, width) for name in SECRET_FIELDS}
    ring = set(key_ring().key_ids)
    rows = Integration.objects.filter(pk__in=list(facts)).order_by().annotate(**heads).values_list("pk", *heads)
    for pk, *values in rows:
        by_field = dict(zip(SECRET_FIELDS, values, strict=True))
        kids = {KeyRing.token_key_id(f"{head}:") for head in values if head}
        facts[pk].unreadable_key_ids = sorted(k for k in kids if k is not None and k not in ring)
        facts[pk].has_refresh_token = bool(by_field["refresh_token"])


# ---------------------------------------------------------------- the rules
def _ago(moment: datetime, now: datetime) -> str:
    hours = (now - moment).total_seconds() / 3600
    return f"{hours:.0f} h ago" if hours < 48 else f"{hours / 24:.0f} days ago"


def _problems(integration: Integration, f: HealthFacts, now: datetime) -> list[str]:
    """Everything short of a state of its own that is wrong (each makes an otherwise fine integration degraded)."""
    found = []
    if integration.consecutive_failures:
        found.append(f"{integration.consecutive_failures} failure(s) in a row")
    if f.last_job_status == "failed":
        found.append("last sync failed")
    if f.calls >= MIN_CALLS and f.call_errors / f.calls > ERROR_RATE_DEGRADED:
        found.append(f"{100 * f.call_errors / f.calls:.0f}% of calls failed in 24 h")
    if f.webhooks_retrying:
        found.append(f"{f.webhooks_retrying} incoming webhook(s) retrying after errors")
    if f.webhooks_failed:
        found.append(f"{f.webhooks_failed} incoming webhook(s) failed in 24 h")
    if f.endpoints_failing:
        found.append(f"{f.endpoints_failing} outgoing endpoint(s) of this integration failing")
    if f.organization_endpoints_failing:
        found.append(f"{f.organization_endpoints_failing} organization-wide outgoing endpoint(s) failing")
    if (integration.status == IntegrationStatus.ACTIVE and integration.auto_sync_enabled
            and integration.next_sync_at and integration.next_sync_at < now - SYNC_OVERDUE):
        found.append("scheduled sync overdue")
    expires = integration.expires_at
    if expires and not f.has_refresh_token and now < expires <= now + TOKEN_WARNING:
        found.append(f"access token expires {timezone.localtime(expires):%Y-%m-%d %H:%M %Z} (no refresh token)")
    return found


def _judge(integration: Integration, f: HealthFacts, now: datetime) -> IntegrationHealth:
    problems = _problems(integration, f, now)
    status = integration.status
    expired = bool(integration.expires_at and integration.expires_at <= now and not f.has_refresh_token)
    if f.unreadable_key_ids:
        cause = (Health.ERROR, f"secrets stored under encryption key {', '.join(f.unreadable_key_ids)}, which this "
                               "process's ENCRYPTION_KEYS does not hold (SECRETS_UNREADABLE)")
    elif status == IntegrationStatus.PENDING_AUTH:
        cause = (Health.REAUTH, "waiting for new credentials: reconnect it (OAuth) or set a new token")
    elif expired and status != IntegrationStatus.INACTIVE:
        cause = (Health.REAUTH, f"access token expired {_ago(integration.expires_at, now)} and there is no "
                                "refresh token: reconnect it or set a new token")
    elif status in (IntegrationStatus.INACTIVE, IntegrationStatus.TESTING):
        cause = (Health.PAUSED, f"switched off ({status}): activate it to sync")
    elif status == IntegrationStatus.ERROR:
        cause = (Health.ERROR, (integration.last_error or "in error after repeated failures")[:200])
    elif f.calls >= MIN_CALLS and f.call_errors / f.calls > ERROR_RATE_ERROR:
        problems = [p for p in problems if "of calls failed" not in p]
        cause = (Health.ERROR, f"{100 * f.call_errors / f.calls:.0f}% of calls failed in 24 h")
    elif problems:
        return IntegrationHealth(Health.DEGRADED, problems, f)
    else:
        return IntegrationHealth(Health.OK, [], f)
    state, reason = cause
    return IntegrationHealth(state, [reason, *problems], f)
