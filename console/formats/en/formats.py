"""The console's date formats (FORMAT_MODULE_PATH): an instant with its seconds and time zone, dates ISO-style.

Operators compare the console's times with logs, the API (ISO 8601) and providers' dashboards; "Dec. 5, 2026,
7:39 p.m." hides the seconds and the zone they need for that.
"""

# The space between the date and the time is the one place a narrow list column may wrap an instant (a no-break
# space keeps the zone with the time; "2026-12-05" has no break opportunity: hyphens before digits do not break).
DATETIME_FORMAT = "Y-m-d H:i:s\u00a0T"
SHORT_DATETIME_FORMAT = DATETIME_FORMAT
DATE_FORMAT = "Y-m-d"
SHORT_DATE_FORMAT = "Y-m-d"
TIME_FORMAT = "H:i:s"
