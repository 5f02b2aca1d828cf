"""The sync engine: pull pages through the connector, write each page with its checkpoint in one transaction.

Why it is shaped like this:

- The provider call (the next page) happens with no transaction open, so a
  slow provider never holds locks or a connection in a transaction, and the
  HTTP client may refresh a token safely. Only then is a transaction opened
  to write the page: the upsert (bulk, with its ExternalRefs), the counts and
  the cursor of the *next* page commit together or not at all.
- So a worker killed anywhere leaves the job at a page boundary: re-running
  it from `job.cursor` writes every page exactly once, and since the upserts
  are idempotent a page written twice (a zombie worker) would change nothing
  either. The lease token guards that too: a page is written only while the
  job's `lease_token` is still ours.
- Records that cannot be mapped are counted as failed, and the first few kept
  with their external ids in `job.metadata["errors"]`; they never fail the job.
- Cancel is checked between pages: the job stops after the page it is on.

Provider errors are not handled here: they leave `run()` and services.py
decides (transient: retry later from the checkpoint; permanent: fail the job).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from connectors import registry
from connectors.base import Connector

from .models import JobStatus, JobType, SyncJob
from .resources import RESOURCES, Resource, Writer, default_writers

logger = logging.getLogger(__name__)

# A record whose shape the mapping did not expect surfaces as one of these; the contract asks for ValueError.
RECORD_ERRORS = (ValueError, KeyError, TypeError)


class LeaseLost(Exception):
    """Another worker claimed the job (this one was presumed dead): stop without writing."""


@dataclass
class PageReport:
    """What one committed page did; the progress callback of commands gets one per page."""

    resource: str
    records: int
    created: int
    updated: int
    unchanged: int
    failed: int
    skipped: int
    job: SyncJob


@dataclass
class _Counts:
    processed: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    skipped: int = 0
    errors: list[dict[str, str]] = field(default_factory=list)


def parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


class SyncEngine:
    """Runs one claimed job (the caller holds `lease_token`) from its checkpoint to the end, or to a cancel.

    `writers` maps a resource name to its upsert (commerce.services by default);
    tests inject fakes. `on_page` is called after each committed page.
    """

    def __init__(
        self,
        job: SyncJob,
        *,
        lease_token: str,
        writers: dict[str, Writer] | None = None,
        connector: Connector | None = None,
        on_page: Callable[[PageReport], None] | None = None,
    ):
        self.job = job
        self.lease_token = lease_token
        self.writers = writers
        self.connector = connector or registry.connector_for(job.integration)
        self.on_page = on_page
        # A backfill covers orders placed in [since, until); other jobs take whatever changed since `since`.
        self.window = (
            (parse_time(job.params.get("since")), parse_time(job.params.get("until")))
            if job.job_type == JobType.BACKFILL
            else (None, None)
        )

    def run(self) -> str:
        """Walk the plan in `job.cursor` from where it stands; return JobStatus.COMPLETED or CANCELLED."""
        if self._cancel_requested():
            return JobStatus.CANCELLED
        while self.job.cursor["step"] < len(self.job.cursor["steps"]):
            plan = self.job.cursor
            step_index = plan["step"]
            step = plan["steps"][step_index]
            resource = RESOURCES[step["resource"]]
            pages = resource.pages(self.connector, since=parse_time(step.get("since")), cursor=plan.get("page"))
            for page in pages:  # the provider call: no transaction is open here
                if self._write_page(resource, page.items, page.next_cursor):
                    return JobStatus.CANCELLED
                if self.job.cursor["step"] != step_index:
                    break  # that was the step's last page
            else:
                if self.job.cursor["step"] == step_index:  # the pull ended without a last page: close the step
                    if self._write_page(resource, [], None):
                        return JobStatus.CANCELLED
        return JobStatus.COMPLETED

    # ------------------------------------------------------------------ one page
    def _write_page(self, resource: Resource, items: list[dict[str, Any]], next_cursor: str | None) -> bool:
        records, counts = self._normalize(resource, items)
        writers = self.writers if self.writers is not None else default_writers()
        with transaction.atomic():
            job = self._locked_job()
            if records:
                result = writers[resource.name](integration=job.integration, **{resource.writer_kwarg: records})
                counts.created, counts.updated, counts.unchanged = result.created, result.updated, result.unchanged
                counts.failed += len(result.failed)
                counts.errors.extend(
                    {"resource": resource.name, "external_id": str(f.get("external_id", "")), "error": str(f["error"])}
                    for f in result.failed
                )
            self._advance(job, next_cursor)
            self._add_counts(job, counts)
            unmapped = set(getattr(result, "unmapped_locations", ()) or ()) if records else set()
            if unmapped:  # channel locations that map to no ERP location: reported to the operator, not guessed
                job.metadata = {**job.metadata, "unmapped_locations": sorted(
                    set(job.metadata.get("unmapped_locations", [])) | unmapped)}
            job.save(update_fields=[
                "cursor", "metadata", "heartbeat_at", "pages_processed", "records_processed", "records_created",
                "records_updated", "records_unchanged", "records_failed", "updated_at",
            ])
        self.job = job
        if self.on_page is not None:
            self.on_page(PageReport(resource.name, counts.processed, counts.created, counts.updated,
                                    counts.unchanged, counts.failed, counts.skipped, job))
        return job.cancel_requested

    def _normalize(self, resource: Resource, items: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], _Counts]:
        counts, records = _Counts(), []
        since, until = self.window
        for item in items:
            try:
                record = resource.normalize(self.connector, item)
            except RECORD_ERRORS as exc:
                counts.processed += 1
                counts.failed += 1
                counts.errors.append({"resource": resource.name, "external_id": resource.external_id(item),
                                      "error": f"{type(exc).__name__}: {exc}"[:500]})
                continue
            placed = record.get("placed_at")
            if placed is not None and ((since and placed < since) or (until and placed >= until)):
                counts.skipped += 1  # a backfill window is by placement; the provider filters by update time
                continue
            counts.processed += 1
            records.append(record)
        return records, counts

    def _locked_job(self) -> SyncJob:
        job = SyncJob.objects.select_for_update(of=("self",)).select_related("integration").get(pk=self.job.pk)
        if job.lease_token != self.lease_token or job.status != JobStatus.RUNNING:
            raise LeaseLost(f"sync job {job.pk} is no longer held by this worker")
        return job

    def _advance(self, job: SyncJob, next_cursor: str | None) -> None:
        plan = dict(job.cursor)
        if next_cursor:
            plan["page"] = next_cursor
        else:
            plan["step"], plan["page"] = plan["step"] + 1, None
        job.cursor = plan
        job.heartbeat_at = timezone.now()
        job.pages_processed += 1

    @staticmethod
    def _add_counts(job: SyncJob, counts: _Counts) -> None:
        job.records_processed += counts.processed
        job.records_created += counts.created
        job.records_updated += counts.updated
        job.records_unchanged += counts.unchanged
        job.records_failed += counts.failed
        metadata = dict(job.metadata)
        if counts.skipped:
            metadata["skipped_outside_window"] = metadata.get("skipped_outside_window", 0) + counts.skipped
        if counts.errors:
            kept = list(metadata.get("errors", []))
            room = max(0, settings.SYNC_ERROR_SAMPLE_SIZE - len(kept))
            metadata["errors"] = kept + counts.errors[:room]
        job.metadata = metadata

    def _cancel_requested(self) -> bool:
        return SyncJob.objects.filter(pk=self.job.pk, cancel_requested=True).exists()
