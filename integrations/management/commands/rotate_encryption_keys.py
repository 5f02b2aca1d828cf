"""`manage.py rotate_encryption_keys`: re-encrypt every encrypted field under the first key.

Rotating a key (key_ring_reports.DEPLOY_ORDER): put the new key first in `ENCRYPTION_KEYS` and keep the old one
after it, deploy that to every web process and worker, run this command until it reports nothing left under
the old key, then drop the old key.

Before it writes anything, it checks that every running process holds the new key (their key ring reports,
integrations/key_ring_reports.py): a process still on the old ring could not read what this command
re-encrypts, so while one is reported the command refuses (`--force` goes on regardless). When no process has
reported, it says it cannot know and prints the deploy order. At the end it counts the stored values under
each key and names each old key with none left: that one can be removed.

Safe to re-run: values already under the first key are counted and skipped.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from tqdm import tqdm

from accounts.audit import record_audit
from integrations.encryption import KeyRing, key_ring
from integrations.key_ring_reports import DEPLOY_ORDER, key_rings_running, stale_after
from integrations.key_rotation import RotationReport, encrypted_models, encrypted_values_by_key, model_rotate


class Command(BaseCommand):
    help = "Re-encrypt every encrypted field of every model under the first key of ENCRYPTION_KEYS."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=500, help="Rows per transaction (default 500).")
        parser.add_argument("--dry-run", action="store_true", help="Count what would change; write nothing.")
        parser.add_argument("--force", action="store_true",
                            help="Re-encrypt although a running process reports a ring without the new key "
                                 "(it then cannot read those values until it holds the key).")

    def handle(self, *args, batch_size: int, dry_run: bool, force: bool, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        ring = key_ring()
        report = RotationReport()
        self.stdout.write(f"Primary key: {ring.primary_id}; keys in the ring: {', '.join(ring.key_ids)}.")
        self._check_running_processes(ring, refuse=not (dry_run or force))
        # tqdm rewrites its line with \r; Django's OutputWrapper would end every update with a newline.
        progress_file = getattr(self.stderr, "_out", self.stderr)
        for model, fields in encrypted_models():
            total = model._base_manager.count()
            names = ", ".join(f.name for f in fields)
            with tqdm(total=total, desc=model._meta.label, unit="row", file=progress_file, leave=True) as bar:
                for done in model_rotate(
                    model, fields, report=report, ring=ring, batch_size=batch_size, dry_run=dry_run
                ):
                    bar.update(done)
            self.stdout.write(f"{model._meta.label}: {total} row(s); fields {names}.")

        for problem in report.unreadable:
            self.stderr.write(f"Cannot re-encrypt {problem}")
        verb = "Would re-encrypt" if dry_run else "Re-encrypted"
        self.stdout.write(
            self.style.SUCCESS(f"{verb} {report.reencrypted} value(s); {report.current} already current.")
        )
        if not dry_run:
            record_audit(action="encryption.keys_rotated", actor_label="command rotate_encryption_keys",
                         details={"primary_key": ring.primary_id, "reencrypted": report.reencrypted,
                                  "unreadable": len(report.unreadable), "forced": force})
        if report.changed_meanwhile:
            self.stdout.write(
                f"{report.changed_meanwhile} value(s) changed while the command ran and were left as written; "
                "re-run to check them."
            )
        if not dry_run:
            self._old_keys_left(ring)
        if report.unreadable:
            raise CommandError(
                f"{len(report.unreadable)} value(s) could not be re-encrypted (listed above); "
                "add their key back to ENCRYPTION_KEYS or fix those rows, then re-run."
            )

    def _check_running_processes(self, ring: KeyRing, *, refuse: bool) -> None:
        """Every process that reported lately must hold the new first key; say so, or refuse (see the docstring)."""
        now = timezone.now()
        running = key_rings_running(now=now)
        window = int(stale_after().total_seconds())
        if not running:
            self.stdout.write(self.style.WARNING(
                f"Cannot know whether every running process holds key {ring.primary_id}: none has reported its "
                f"key ring in the last {window} s (web processes report on requests and workers when they start, "
                "every KEY_RING_REPORT_SECONDS; 0 turns it off). Make sure the deploy order was followed:"))
            self.stdout.write(DEPLOY_ORDER)
            return
        behind = [r for r in running if ring.primary_id not in r.key_ids]
        if not behind:
            names = ", ".join(f"{r.role} {r.process}" for r in running)
            self.stdout.write(f"Every process that reported in the last {window} s holds key {ring.primary_id}: "
                              f"{names}.")
            return
        for process in behind:
            age = int((now - process.reported_at).total_seconds())
            self.stderr.write(f"{process.role} {process.process} (reported {age} s ago) holds keys "
                              f"{', '.join(process.key_ids)}, not {ring.primary_id}.")
        message = (f"{len(behind)} running process(es) do not hold key {ring.primary_id} yet (listed above): they "
                   "could not read the values once they are re-encrypted under it. Deploy the new ENCRYPTION_KEYS "
                   f"to them and restart them, wait for their next report, then re-run.\n{DEPLOY_ORDER}")
        if refuse:
            raise CommandError(message + "\n(--force re-encrypts anyway.)")
        self.stderr.write(self.style.WARNING(message))

    def _old_keys_left(self, ring: KeyRing) -> None:
        """Name each old key of the ring with no value left under it (removable), and each that still has some."""
        counts = encrypted_values_by_key()
        for kid in ring.key_ids[1:]:
            left = counts.get(kid, 0)
            if left:
                self.stdout.write(self.style.WARNING(
                    f"{left} value(s) are still under {kid} (written meanwhile by a process on the old ring, or "
                    "unreadable above); keep it in the ring and re-run."))
            else:
                self.stdout.write(self.style.SUCCESS(f"No values left under {kid}; it can be removed."))
