"""Chat commands (connectors/chatops.py installs this answerer): `health`, `sync <code>`, `help`.

Who may do what follows the member's role in the integration's organization, found by the email address the chat
provider vouches for: any member may read health; starting a sync needs the operator role (a viewer cannot).
Someone with no membership gets nothing but a refusal.
"""

from __future__ import annotations

from accounts.models import ROLE_RANK, Membership, Role
from config.errors import ApplicationError
from connectors.chatops import ChatAnswer
from integrations.health_selectors import integrations_health
from integrations.models import Integration
from syncjobs.models import Trigger
from syncjobs.services import sync_job_start

HELP = "Commands: `health` (every integration's health), `sync <code>` (start a sync; operators and above)."
SYNC_ROLE = Role.OPERATOR


def chat_command_answer(*, integration: Integration, user_email: str, text: str) -> ChatAnswer:
    organization = integration.organization
    membership = (Membership.objects.filter(organization=organization, user__email__iexact=user_email,
                                            user__is_active=True).first() if user_email else None)
    if membership is None:
        return ChatAnswer(f"You are not a member of {organization.name} in Switchyard (no member has your "
                          "email address).", ok=False)
    words = text.split()
    command = words[0].lower() if words else "help"
    if command == "health":
        return _health(organization)
    if command == "sync" and len(words) == 2:
        if ROLE_RANK[Role(membership.role)] < ROLE_RANK[SYNC_ROLE]:
            return ChatAnswer(f"Starting a sync needs the {SYNC_ROLE.value} role or above; yours is "
                              f"{membership.role}.", ok=False)
        return _sync(organization, words[1])
    return ChatAnswer(HELP, ok=command == "help")


def _health(organization) -> ChatAnswer:
    integrations = list(Integration.objects.filter(organization=organization).order_by("code"))
    if not integrations:
        return ChatAnswer("No integrations yet.")
    found = integrations_health(integrations)
    lines = []
    for integration in integrations:
        health = found[integration.pk]
        reason = f" — {health.reasons[0]}" if health.reasons else ""
        lines.append(f"{integration.code}: {health.label}{reason}")
    return ChatAnswer("\n".join(lines))


def _sync(organization, code: str) -> ChatAnswer:
    target = Integration.objects.filter(organization=organization, code=code).first()
    if target is None:
        return ChatAnswer(f"No integration {code!r} here.", ok=False)
    try:
        job = sync_job_start(integration=target, trigger=Trigger.COMMAND)
    except ApplicationError as exc:
        return ChatAnswer(f"Could not start a sync of {code}: {exc.message}", ok=False)
    return ChatAnswer(f"Sync of {code} started (job {job.pk}).")
