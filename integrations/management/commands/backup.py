"""`manage.py backup PATH`: every record of the product in one loaddata-ready JSON file, secrets as ciphertext.

A backup must not undo encryption at rest: encrypted fields are written as the
ciphertext (a fresh one, under the first key of ENCRYPTION_KEYS), so the file is
as safe as the database and restores only where the key ring can open it
(`manage.py loaddata PATH`). Rows are read in batches with a progress bar per
model, so a large call log neither fills memory nor leaves the operator guessing.

Left out on purpose: content types and permissions (every migrate recreates
them; users and groups refer to them by natural key), sessions and the admin's
own action log.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from itertools import islice
from pathlib import Path

from django.apps import apps
from django.core import serializers
from django.core.management.base import BaseCommand, CommandError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import DEFAULT_DB_ALIAS
from tqdm import tqdm

EXCLUDED = {"contenttypes", "sessions", "admin", "auth.permission"}


def backup_models() -> list:
    """The models a backup holds, ordered so that loaddata meets a referenced row before the rows pointing at it."""
    chosen = [
        model
        for config in apps.get_app_configs()
        if config.label not in EXCLUDED
        for model in config.get_models()
        if model._meta.label_lower not in EXCLUDED and not model._meta.proxy and model._meta.managed
    ]
    ordered = serializers.sort_dependencies([(None, chosen)], allow_cycles=True)
    return [model for model in ordered if model in chosen]


def batched(rows: Iterator, size: int) -> Iterator[list]:
    rows = iter(rows)
    while batch := list(islice(rows, size)):
        yield batch


class Command(BaseCommand):
    help = "Write every record (secrets encrypted) to PATH as JSON that `manage.py loaddata PATH` restores."

    def add_arguments(self, parser):
        parser.add_argument("path", help="File to write, e.g. backup-2024-06-01.json (loaddata needs .json).")
        parser.add_argument("--batch-size", type=int, default=1000, help="Rows read per query (default 1000).")
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS)

    def handle(self, *args, path: str, batch_size: int, database: str, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        target = Path(path)
        if not target.parent.is_dir():
            raise CommandError(f"{target.parent} is not a directory.")
        progress_file = getattr(self.stderr, "_out", self.stderr)  # tqdm redraws its line with \r
        partial = target.with_name(target.name + ".partial")
        written = 0
        with partial.open("w", encoding="utf-8") as out:
            out.write("[")
            for model in backup_models():
                queryset = model._base_manager.using(database).order_by(model._meta.pk.name)
                with tqdm(total=queryset.count(), desc=model._meta.label, unit="row", file=progress_file) as bar:
                    for batch in batched(queryset.iterator(chunk_size=batch_size), batch_size):
                        for record in serializers.serialize("python", batch, use_natural_foreign_keys=True):
                            out.write(",\n" if written else "\n")
                            json.dump(record, out, cls=DjangoJSONEncoder, ensure_ascii=False)
                            written += 1
                        bar.update(len(batch))
            out.write("\n]\n")
        partial.replace(target)  # a half-written file never carries the final name
        self.stdout.write(self.style.SUCCESS(f"Wrote {written} record(s) to {target}."))
