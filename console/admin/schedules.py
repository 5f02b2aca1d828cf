"""Beat's schedules (django-celery-beat's tables, shown as "Schedules"): each task's timing read as a person
says it — "every 30 seconds", "hourly", "daily at 04:00 UTC" — in place of "every 86400 seconds" and
"0 4 * * * (m/h/dM/MY/d) UTC". The tables and their editing stay django-celery-beat's."""

from __future__ import annotations

from django.contrib import admin
from django_celery_beat.admin import IntervalScheduleAdmin as BeatIntervalAdmin
from django_celery_beat.admin import PeriodicTaskAdmin as BeatPeriodicTaskAdmin
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

_SECONDS = {"days": 86400, "hours": 3600, "minutes": 60, "seconds": 1, "microseconds": 1e-6}
_NAMED = {60: "every minute", 3600: "hourly", 86400: "daily", 7 * 86400: "weekly"}


def interval_words(interval: IntervalSchedule) -> str:
    seconds = interval.every * _SECONDS.get(interval.period, 1)
    if seconds in _NAMED:
        return _NAMED[seconds]
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            return f"every {count} {unit}s"
    return f"every {seconds:g} seconds"


def crontab_words(crontab: CrontabSchedule) -> str:
    every_day = (crontab.day_of_week, crontab.day_of_month, crontab.month_of_year) == ("*", "*", "*")
    if every_day and crontab.minute.isdigit() and crontab.hour.isdigit():
        return f"daily at {int(crontab.hour):02d}:{int(crontab.minute):02d} {crontab.timezone}"
    if every_day and crontab.minute.isdigit() and crontab.hour == "*":
        return f"hourly at minute {int(crontab.minute)}"
    return str(crontab)


def schedule_words(task: PeriodicTask) -> str:
    if task.interval_id:
        return interval_words(task.interval)
    if task.crontab_id:
        return crontab_words(task.crontab)
    return str(task.schedule) if (task.solar_id or task.clocked_id) else "–"


class PeriodicTaskAdmin(BeatPeriodicTaskAdmin):
    list_display = ("name", "enabled", "runs", "last_run_at", "total_run_count")
    list_select_related = ("interval", "crontab", "solar", "clocked")

    @admin.display(description="runs")
    def runs(self, obj: PeriodicTask) -> str:
        return schedule_words(obj)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "interval" and field is not None:
            field.label_from_instance = interval_words
        elif db_field.name == "crontab" and field is not None:
            field.label_from_instance = crontab_words
        return field


class IntervalScheduleAdmin(BeatIntervalAdmin):
    list_display = ("__str__", "reads_as")

    @admin.display(description="reads as")
    def reads_as(self, obj: IntervalSchedule) -> str:
        return interval_words(obj)


for model, model_admin in ((PeriodicTask, PeriodicTaskAdmin), (IntervalSchedule, IntervalScheduleAdmin)):
    if admin.site.is_registered(model):
        admin.site.unregister(model)
    admin.site.register(model, model_admin)
