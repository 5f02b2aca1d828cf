"""Running a sync job in a command's own process: progress bar, retries after transient errors, summary."""

from __future__ import annotations

import time

from django.core.management.base import CommandError, OutputWrapper
from tqdm import tqdm

from accounts.audit import command_actor, record_audit
from config.errors import ApplicationError
from syncjobs import services
from syncjobs.engine import PageReport
from syncjobs.models import JobStatus, SyncJob


def command_error(exc: ApplicationError) -> CommandError:
    """A refusal as a command says it: each field the service named is the option that carries it
    ("--until: must be after --since"), not "The request is not valid."."""
    details = exc.details if isinstance(exc.details, dict) else {}
    if exc.code != "VALIDATION_ERROR" or not details:
        return CommandError(f"{exc.code}: {exc.message}")
    named = []
    for field, messages in details.items():
        text = " ".join(str(m) for m in messages) if isinstance(messages, (list, tuple)) else str(messages)
        named.append(f"--{field.replace('_', '-')}: {text.replace('`', '')}")
    return CommandError("; ".join(named))


def record_command_start(job: SyncJob, *, command: str, details: dict | None = None) -> None:
    """The audit event of a job a command started (or resumed): as the console's and the API's "sync.started"."""
    record_audit(action="sync.started", target=job, actor_label=command_actor(command),
                 details={"integration": job.integration.code, "job_type": job.job_type, "trigger": job.trigger,
                          **(details or {})})


def run_in_foreground(claimed: tuple[SyncJob, str], *, stdout: OutputWrapper, progress: bool = True) -> SyncJob:
    """Run the claimed job here, no worker needed; raise CommandError unless it completes.

    A transient provider error waits out the job's backoff and carries on from
    the checkpoint (as the worker would); Ctrl-C cancels the job with its
    checkpoint kept, so the same command resumes it.
    """
    job, token = claimed
    resumed = job.records_processed
    bar = tqdm(total=None, initial=resumed, unit=" records", unit_scale=True, disable=not progress,
               desc=f"job {job.pk} {job.job_type}", dynamic_ncols=True)
    started = time.monotonic()

    def on_page(report: PageReport) -> None:
        done = report.job
        bar.update(report.records)
        bar.set_postfix(resource=report.resource, pages=done.pages_processed, new=done.records_created,
                        changed=done.records_updated, failed=done.records_failed, refresh=False)

    try:
        while True:
            try:
                finished = services.sync_job_run(job_id=job.pk, claimed=claimed, on_page=on_page)
                break
            except services.RetryLater as retry:
                bar.write(f"Provider unavailable ({retry}); retrying in {retry.countdown} s from the checkpoint.")
                time.sleep(retry.countdown)
                claimed = services.sync_job_claim(job_id=job.pk)
                if claimed is None:
                    raise CommandError(f"Job {job.pk} was taken over by another process.") from None
    except KeyboardInterrupt:
        services.sync_job_interrupt(job_id=job.pk, token=claimed[1], reason="Interrupted from the command line.")
        bar.close()
        raise CommandError(f"Interrupted: job {job.pk} cancelled at its last checkpoint; run the same command "
                           "again to resume it.") from None
    finally:
        bar.close()
    if finished is None:
        raise CommandError(f"Job {job.pk} was taken over by another process.")
    elapsed = time.monotonic() - started
    done_here = finished.records_processed - resumed
    stdout.write(
        f"Job {finished.pk} {finished.status}: {finished.records_processed:,} records in "
        f"{finished.pages_processed:,} pages — {finished.records_created:,} created, {finished.records_updated:,} "
        f"updated, {finished.records_unchanged:,} unchanged, {finished.records_failed:,} failed"
        + (f" ({resumed:,} before this run)" if resumed else "")
        + f"; {elapsed:.1f} s, {done_here / elapsed if elapsed else 0:,.0f} records/s."
    )
    for error in finished.metadata.get("errors", [])[:5]:
        stdout.write(f"  {error['resource']} {error['external_id']}: {error['error']}")
    if finished.status != JobStatus.COMPLETED:
        raise CommandError(f"Job {finished.pk} {finished.status}: {finished.error_message or 'see the admin'}")
    return finished
