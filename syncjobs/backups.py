"""Nightly backups: the ERP's records as CSV files written into a file store's folder, keeping the last N runs.

Which integrations: active ones whose provider is a file store (`FileStore`, e.g. Google Drive) and whose
`config["backup"]` names a `folder_id`; `keep` (how many runs the folder keeps) defaults to
BACKUP_KEEP_DEFAULT. A run exports the integration's organization (commerce/services/records_export.py) and
uploads each file as `switchyard-<integration code>-<YYYYMMDDTHHMMSSZ>-<name>.csv`. Then retention: the
folder is listed, files of that name pattern are grouped by their timestamp (one run), and every run but the
newest `keep` is deleted. The store's listing is the record of which backups exist, so a backup deleted by
hand, or a row of ours lost, cannot make retention delete the wrong files; and only names of this pattern
and this integration are ever deleted.

What can go wrong: an upload fails part way. The files of that run already uploaded are deleted (best
effort) and the error raised, so a half run never counts as a backup and retention, which runs only after a
whole run, never deletes a good one because of it. A transient error is retried by the task.

Scheduled daily by beat (config.beat.PERIODIC_JOBS `backup`; an operator may turn it into a crontab at
night in the admin) and reachable as `POST /api/cron/backup/`. Each run is recorded on the integration
(`metadata["backup"]`: when, the files, what retention deleted) and every upload and deletion is a call log row.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils import timezone

from commerce.services.records_export import records_export_csv
from config.errors import ApplicationError, ValidationError
from connectors import registry
from connectors.base import Capability
from integrations.metadata import integration_metadata_key_update
from integrations.models import Integration, IntegrationStatus

logger = logging.getLogger(__name__)

STAMP_FORMAT = "%Y%m%dT%H%M%SZ"
CSV_MIME = "text/csv"


@dataclass
class BackupRun:
    stamp: str
    uploaded: list[dict[str, Any]] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)  # names of older runs' files

    def summary(self) -> dict[str, Any]:
        return {"stamp": self.stamp, "files": [f["name"] for f in self.uploaded], "deleted": self.deleted}


def backup_settings(integration: Integration) -> tuple[str, int] | None:
    """(folder id, runs kept) from `config["backup"]`, or None when the integration makes no backups."""
    config = integration.config if isinstance(integration.config, dict) else {}
    backup = config.get("backup") if isinstance(config.get("backup"), dict) else {}
    folder = str(backup.get("folder_id") or "").strip()
    if not folder:
        return None
    try:
        keep = int(backup.get("keep") or settings.BACKUP_KEEP_DEFAULT)
    except (TypeError, ValueError):
        raise ValidationError("config.backup.keep must be a whole number of runs.",
                              details={"config.backup.keep": ["not a number"]}) from None
    return folder, max(1, keep)


def integrations_backing_up() -> list[int]:
    """Active file-store integrations with a backup folder."""
    found = []
    for integration in Integration.objects.filter(status=IntegrationStatus.ACTIVE).order_by("pk"):
        if (registry.is_registered(integration.provider)
                and registry.supports(integration.provider, Capability.FILES) and backup_settings(integration)):
            found.append(integration.pk)
    return found


def backup_file_prefix(integration: Integration) -> str:
    return f"switchyard-{integration.code}-"


def backup_write(*, integration_id: int, now: datetime | None = None) -> BackupRun | None:
    """One backup run of one integration (see the module docstring); None when it makes no backups."""
    integration = Integration.objects.filter(pk=integration_id).first()
    if integration is None or (chosen := backup_settings(integration)) is None:
        return None
    folder, keep = chosen
    connector = registry.connector_for(integration)
    run = BackupRun(stamp=(now or timezone.now()).strftime(STAMP_FORMAT))
    prefix = backup_file_prefix(integration)
    files = records_export_csv(organization_id=integration.organization_id)
    try:
        for name, content in files.items():
            uploaded = connector.upload_file(folder_id=folder, name=f"{prefix}{run.stamp}-{name}", content=content,
                                             mime_type=CSV_MIME)
            run.uploaded.append(uploaded)
    except ApplicationError as failure:
        for uploaded in run.uploaded:
            try:
                connector.delete_file(str(uploaded["id"]))
            except ApplicationError as exc:  # the next run's retention cannot see a half run: say so
                logger.warning("Backup file %s of a failed run was left in the folder: %s", uploaded.get("name"),
                               exc.message)
        _remember(integration, {"last_error": f"Upload failed: {failure.message}"[:500],
                                "failed_at": timezone.now().isoformat()})
        raise
    run.deleted = _apply_retention(connector, folder, prefix, keep)
    _remember(integration, {"last_run_at": timezone.now().isoformat(), **run.summary(), "last_error": ""})
    return run


def _apply_retention(connector: Any, folder: str, prefix: str, keep: int) -> list[str]:
    """Delete every run but the newest `keep` among the folder's files named by this integration's pattern."""
    pattern = re.compile(rf"^{re.escape(prefix)}(\d{{8}}T\d{{6}}Z)-[a-z_]+\.csv$")
    runs: dict[str, list[dict[str, Any]]] = {}
    for item in connector.folder_files(folder):
        matched = pattern.match(str(item.get("name") or ""))
        if matched:
            runs.setdefault(matched.group(1), []).append(item)
    deleted = []
    for stamp in sorted(runs)[:max(0, len(runs) - keep)]:  # oldest first: an interruption spares the newer
        for item in sorted(runs[stamp], key=lambda f: f["name"]):
            connector.delete_file(str(item["id"]))
            deleted.append(str(item["name"]))
    return deleted


def _remember(integration: Integration, summary: dict[str, Any]) -> None:
    """`metadata["backup"]` and that key alone: a token refresh or health note saved meanwhile stays."""
    integration_metadata_key_update(integration_id=integration.pk, key="backup",
                                    change=lambda previous: {**previous, **summary})
