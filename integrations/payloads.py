"""How an integration appears in the payloads of outbound events (integration.*, order.*, sync_job.*, webhook.*)."""

from __future__ import annotations

from typing import Any

from .models import Integration


def integration_summary(integration: Integration) -> dict[str, Any]:
    """The integration as every event names it: id, code, provider and name (nothing secret, nothing that churns)."""
    return {"id": integration.pk, "code": integration.code, "provider": integration.provider,
            "name": integration.name}
