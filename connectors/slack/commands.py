"""`POST /api/slack/commands/`: the `/switchyard` slash command (`health`, `sync <code>`, `help`).

Checked before anything is read: the request's `X-Slack-Signature` (v0, HMAC-SHA256 of
`v0:{X-Slack-Request-Timestamp}:{raw body}` with the app's signing secret) and the timestamp within
WEBHOOK_SIGNATURE_TOLERANCE_SECONDS of now, either way: a forged, altered or replayed command is 401
INVALID_SIGNATURE. Then the workspace (`team_id`) names the integration, and the member who typed it is
identified by the email Slack holds for them (`users.info`, scope users:read.email); the organization's
membership with that email decides what they may do (connectors/chatops.py; a viewer cannot start a sync).
Slack wants an answer within 3 s: every answer is an ephemeral message (only the caller sees it).
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qs

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from config.errors import ApplicationError, error_body
from connectors.base import provider_setting
from connectors.chatops import chat_command
from connectors.schemes import verify_slack
from integrations.models import Integration, IntegrationStatus

logger = logging.getLogger(__name__)
KEY = "slack"


def _ephemeral(text: str) -> JsonResponse:
    return JsonResponse({"response_type": "ephemeral", "text": text})


def workspace_integration(team_id: str) -> Integration | list[Integration] | None:
    """The active Slack integration of the workspace; a list when several organizations connected it (refused)."""
    if not team_id:
        return None
    matching = list(Integration.objects.filter(provider=KEY, status=IntegrationStatus.ACTIVE, config__team_id=team_id)
                    .select_related("organization")[:2])
    if len(matching) > 1:
        return matching
    return matching[0] if matching else None


@csrf_exempt
@require_POST
def slash_command(request: HttpRequest) -> JsonResponse:
    secret = provider_setting(KEY, "SIGNING_SECRET")
    body = request.body
    if not secret or not verify_slack(request.headers, body, [secret],
                                      tolerance=settings.WEBHOOK_SIGNATURE_TOLERANCE_SECONDS):
        return JsonResponse(error_body("INVALID_SIGNATURE", "The Slack request signature is missing, wrong or "
                                       "too old."), status=401)
    form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
    found = workspace_integration(form.get("team_id", ""))
    if found is None:
        return _ephemeral("This Slack workspace is not connected to Switchyard.")
    if isinstance(found, list):
        return _ephemeral("This Slack workspace is connected to several Switchyard organizations; ask an admin "
                          "to keep one.")
    from .connector import SlackConnector

    connector = SlackConnector(found)
    try:
        email = connector.client.user_email(form.get("user_id", ""))
        answer = chat_command(integration=found, user_email=email, text=form.get("text", ""))
    except ApplicationError as exc:
        logger.warning("Slack command for integration %s failed: %s", found.pk, exc.code)
        return _ephemeral(f"Switchyard could not answer: {exc.message}")
    return _ephemeral(answer.text)
