"""`manage.py rotate_encryption_keys`: re-encrypt every encrypted field under the first key.

Rotating a key: put the new key first in `ENCRYPTION_KEYS` and keep the old one
after it, deploy, run this command until it reports nothing left to re-encrypt,
then drop the old key. Safe to re-run: values already under the first key are
counted and skipped.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from accounts.audit import record_audit
from integrations.encryption import key_ring
from integrations.key_rotation import RotationReport, encrypted_models, model_rotate


class Command(BaseCommand):
    help = "Re-encrypt every encrypted field of every model under the first key of ENCRYPTION_KEYS."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=500, help="Rows per transaction (default 500).")
        parser.add_argument("--dry-run", action="store_true", help="Count what would change; write nothing.")

    def handle(self, *args, batch_size: int, dry_run: bool, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        ring = key_ring()
        report = RotationReport()
        self.stdout.write(f"Primary key: {ring.primary_id}; keys in the ring: {', '.join(ring.key_ids)}.")
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
                                  "unreadable": len(report.unreadable)})
        if report.changed_meanwhile:
            self.stdout.write(
                f"{report.changed_meanwhile} value(s) changed while the command ran and were left as written; "
                "re-run to check them."
            )
        if report.unreadable:
            raise CommandError(
                f"{len(report.unreadable)} value(s) could not be re-encrypted (listed above); "
                "add their key back to ENCRYPTION_KEYS or fix those rows, then re-run."
            )
