"""The sync engine: pull pages through the connector, write each page with its checkpoint in one transaction.

Why it is shaped like this:

- The provider call (the next page) happens with no transaction open, so a
  slow provider never holds locks or a connection in a transaction, and the
  HTTP client may refresh a token safely. On PostgreSQL it happens on a thread
  of its own while the page before is written (prefetch.py): one page ahead,
  never more, and never ahead of the checkpoint. Only then is a transaction opened
  to write the page: the upsert (bulk, with its ExternalRefs), the counts and
  the cursor of the *next* page commit together or not at all.
- So a worker killed anywhere leaves the job at a page boundary: re-running
  it from `job.cursor` writes every page exactly once, and since the upserts
  are idempotent a page written twice (a zombie worker) would change nothing
  either. The lease token guards that too: a page is written only while the
  job's `lease_token` is still ours.
- A page goes through `resources.resource_import`, the one import path (webhooks and
  re-pulls take it too), its records already normalized where the page was fetched
  (`resources.normalize_records`, on the fetching thread when it prefetches), so
  the writing thread only writes. Records that cannot be mapped are counted as failed,
  and the first few kept with their external ids in `job.metadata["errors"]`;
  they never fail the job.
- Cancel is checked between pages: the job stops after the page it is on.

- The process's long-lived objects (modules, settings, the app registry) are
  frozen out of the cyclic GC once, before the first job (`freeze_long_lived`):
  a backfill's pages allocate enough that the GC runs a full collection every
  ten-odd pages, and each rescanned those ~280k objects: a fifth of the
  process's CPU per order (bench/sync_backfill.py: 237 → 202 µs/order).

Provider errors are not handled here: they leave `run()` and services.py
decides (transient: retry later from the checkpoint; permanent: fail the job).
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from connectors import registry
from connectors.base import Connector

from .models import JobStatus, JobType, SyncJob
from .prefetch import page_stream
from .resources import (
    RESOURCES,
    ImportResult,
    ImportSource,
    Normalized,
    Resource,
    Writer,
    default_writers,
    normalize_records,
    resource_import,
)

logger = logging.getLogger(__name__)


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


def parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


_frozen = False


def freeze_long_lived() -> None:
    """Once per process: collect, then move every object alive now to the GC's permanent generation.

    What is alive before a worker's first job (imports, settings, Django's registries) lives as long as the
    process, so the cyclic GC gains nothing by rescanning it on every full collection. Once, not per job: an
    object frozen while alive and later part of a garbage cycle is never freed, so freezing again and again
    would leak what each job left; frozen once, that is bounded.
    """
    global _frozen  # noqa: PLW0603 - a process-wide, once-only switch
    if _frozen:
        return
    _frozen = True
    gc.collect()
    gc.freeze()


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
        freeze_long_lived()
        if self._cancel_requested():
            return JobStatus.CANCELLED
        while self.job.cursor["step"] < len(self.job.cursor["steps"]):
            plan = self.job.cursor
            step_index = plan["step"]
            step = plan["steps"][step_index]
            resource = RESOURCES[step["resource"]]
            pages = resource.pages(self.connector, since=parse_time(step.get("since")), cursor=plan.get("page"))
            with page_stream(pages, prepare=partial(self._normalize, resource)) as stream:
                for page in stream:  # the provider call (in flight while the page before is written): no transaction
                    if self._write_page(resource, page.prepared, page.next_cursor):
                        return JobStatus.CANCELLED
                    if self.job.cursor["step"] != step_index:
                        break  # that was the step's last page
                else:
                    if self.job.cursor["step"] == step_index:  # the pull ended without a last page: close the step
                        if self._write_page(resource, self._normalize(resource, []), None):
                            return JobStatus.CANCELLED
        return JobStatus.COMPLETED

    # ------------------------------------------------------------------ one page
    def _normalize(self, resource: Resource, items: list[dict[str, Any]]) -> Normalized:
        """A page's raw records in commerce's shape; reads no ERP table, so it runs on the fetching thread."""
        return normalize_records(resource, items, source=ImportSource.SYNC, connector=self.connector,
                                 window=self.window)

    def _write_page(self, resource: Resource, records: Normalized, next_cursor: str | None) -> bool:
        writers = self.writers if self.writers is not None else default_writers()
        with transaction.atomic():
            job = self._locked_job()
            result = resource_import(job.integration, resource, records, source=ImportSource.SYNC,
                                     connector=self.connector, write=writers.get(resource.name))
            self._advance(job, next_cursor)
            self._add_counts(job, result)
            job.save(update_fields=[
                "cursor", "metadata", "heartbeat_at", "pages_processed", "records_processed", "records_created",
                "records_updated", "records_unchanged", "records_failed", "updated_at",
            ])
        self.job = job
        if self.on_page is not None:
            self.on_page(PageReport(resource.name, result.processed, result.created, result.updated,
                                    result.unchanged, len(result.failed), result.skipped, job))
        return job.cancel_requested

    def _locked_job(self) -> SyncJob:
        job = (SyncJob.objects.select_for_update(of=("self",)).select_related("integration__organization")
               .get(pk=self.job.pk))
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
    def _add_counts(job: SyncJob, result: ImportResult) -> None:
        job.records_processed += result.processed
        job.records_created += result.created
        job.records_updated += result.updated
        job.records_unchanged += result.unchanged
        job.records_failed += len(result.failed)
        metadata = dict(job.metadata)
        if result.skipped:
            metadata["skipped_outside_window"] = metadata.get("skipped_outside_window", 0) + result.skipped
        if result.failed:
            kept = list(metadata.get("errors", []))
            room = max(0, settings.SYNC_ERROR_SAMPLE_SIZE - len(kept))
            metadata["errors"] = kept + [{key: failure[key] for key in ("resource", "external_id", "error")}
                                         for failure in result.failed[:room]]
        if result.unmapped_locations:  # channel locations that map to no ERP location: reported, not guessed
            metadata["unmapped_locations"] = sorted(set(metadata.get("unmapped_locations", []))
                                                    | result.unmapped_locations)
        job.metadata = metadata

    def _cancel_requested(self) -> bool:
        return SyncJob.objects.filter(pk=self.job.pk, cancel_requested=True).exists()
