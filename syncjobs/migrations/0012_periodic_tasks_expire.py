"""Periodic tasks expire: the rows earlier migrations created get `expire_seconds` (config/beat.py says why).

Run once over every interval row without an expiry, whichever app's migration made it; rows created later get it
from `schedule_operation` itself, so the order of the apps' migrations does not matter.
"""

from django.db import migrations

from config.beat import BEAT_DEPENDENCY, expiry_operation


class Migration(migrations.Migration):
    dependencies = [
        ("syncjobs", "0011_marketing_campaigns_job_type"),
        BEAT_DEPENDENCY,
    ]

    operations = [expiry_operation()]
