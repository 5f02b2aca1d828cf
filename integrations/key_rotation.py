"""Re-encrypt every encrypted field under the first key of `ENCRYPTION_KEYS`.

Rotation reads the raw column values (the `enc1:<key id>:…` tokens), never the
decrypted model attributes, so that a row already under the primary key is
skipped without being touched and a row under a key that has left the ring is
reported instead of crashing the whole run. Each write is conditional on the
column still holding the token that was read: a value the application changed
meanwhile is left alone (it was written under the primary key anyway), so
rotation can run while the app serves traffic.

What can go wrong: a value under a key not in the ring, or one that fails
authentication, cannot be re-encrypted; it is reported by model, pk and field
(never the value) and left as it is.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.apps import apps
from django.db import models, transaction
from django.db.models import Count
from django.db.models.functions import Cast, Substr

from .encryption import ENCRYPTED_FIELD_TYPES, TOKEN_PREFIX, DecryptionError, KeyRing, key_ring


@dataclass(frozen=True)
class UnreadableValue:
    """A stored value rotation could not open. Holds no part of the value."""

    model: str
    pk: object
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.model} pk={self.pk} field={self.field}: {self.reason}"


@dataclass
class RotationReport:
    reencrypted: int = 0
    current: int = 0
    changed_meanwhile: int = 0
    unreadable: list[UnreadableValue] = field(default_factory=list)


def encrypted_models() -> list[tuple[type[models.Model], list[models.Field]]]:
    """Every installed model with its own encrypted columns (a child model's inherited ones belong to the parent)."""
    found = []
    for model in apps.get_models():
        if model._meta.proxy:
            continue
        fields = [f for f in model._meta.local_concrete_fields if isinstance(f, ENCRYPTED_FIELD_TYPES)]
        if fields:
            found.append((model, fields))
    return found


def _raw_alias(name: str) -> str:
    return f"_raw_{name}"


def _raw_columns(fields: list[models.Field]) -> dict[str, Cast]:
    # Cast to a plain TextField so the ORM applies no from_db_value: we see the stored token.
    return {_raw_alias(f.name): Cast(f.name, output_field=models.TextField()) for f in fields}


def model_rotate(
    model: type[models.Model],
    fields: list[models.Field],
    *,
    report: RotationReport,
    ring: KeyRing | None = None,
    batch_size: int = 500,
    dry_run: bool = False,
) -> Iterator[int]:
    """Rotate one model, one transaction per batch of rows in pk order; yields the rows done per batch."""
    ring = ring or key_ring()
    label = model._meta.label
    manager = model._base_manager
    raw = _raw_columns(fields)
    last_pk = None
    while True:
        with transaction.atomic(using=manager.db):
            rows = manager.annotate(**raw).order_by("pk")
            if last_pk is not None:
                rows = rows.filter(pk__gt=last_pk)
            batch = list(rows.values_list("pk", *raw)[:batch_size])
            for pk, *values in batch:
                _row_rotate(manager, pk, fields, values, ring=ring, report=report, label=label, dry_run=dry_run)
        if not batch:
            return
        last_pk = batch[-1][0]
        yield len(batch)


def _row_rotate(manager, pk, fields, values, *, ring: KeyRing, report: RotationReport, label: str, dry_run: bool):
    updates: dict[str, models.Value] = {}
    expected: dict[str, str] = {}
    for model_field, token in zip(fields, values, strict=True):
        if token in (None, ""):
            continue
        kid = KeyRing.token_key_id(token)
        if kid == ring.primary_id:
            report.current += 1
            continue
        if kid is None:
            report.unreadable.append(UnreadableValue(label, pk, model_field.name, "not an encrypted value"))
            continue
        try:
            plaintext = ring.decrypt(token)
        except DecryptionError as exc:
            report.unreadable.append(UnreadableValue(label, pk, model_field.name, str(exc)))
            continue
        # A Value with a plain TextField output skips the encrypted field's get_prep_value: we write the token.
        updates[model_field.name] = models.Value(ring.encrypt(plaintext), output_field=models.TextField())
        expected[_raw_alias(model_field.name)] = token
    if not updates:
        return
    if dry_run:
        report.reencrypted += len(updates)
        return
    columns = _raw_columns([f for f in fields if f.name in updates])
    written = manager.alias(**columns).filter(pk=pk, **expected).update(**updates)
    if written:
        report.reencrypted += len(updates)
    else:
        report.changed_meanwhile += len(updates)


def encryption_keys_rotate(*, batch_size: int = 500, dry_run: bool = False) -> RotationReport:
    """Rotate every encrypted field of every model; the command wraps this with progress bars."""
    report = RotationReport()
    ring = key_ring()
    for model, fields in encrypted_models():
        for _ in model_rotate(model, fields, report=report, ring=ring, batch_size=batch_size, dry_run=dry_run):
            pass
    return report


def encrypted_values_by_key() -> Counter[str]:
    """How many stored values name each key id, across every encrypted field (one GROUP BY per field on the
    tokens' `enc1:<key id>` head; nothing is decrypted). What tells an operator an old key can go: none left
    under it, whoever wrote last (a process still on the old ring writes under the old key)."""
    width = len(TOKEN_PREFIX) + 1 + 8
    found: Counter[str] = Counter()
    for model, fields in encrypted_models():
        for model_field in fields:
            head = Substr(Cast(model_field.name, output_field=models.TextField()), 1, width)
            rows = (model._base_manager.order_by().annotate(_head=head)
                    .filter(_head__startswith=f"{TOKEN_PREFIX}:").values("_head").annotate(n=Count("pk")))
            for row in rows:
                kid = KeyRing.token_key_id(f"{row['_head']}:")
                if kid is not None:
                    found[kid] += row["n"]
    return found
