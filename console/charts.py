"""Server-side SVG charts for the admin dashboard: no JavaScript, no CDN, nothing to load but the page.

Three shapes: hourly stacked bars (syncs by result, incoming webhooks by status),
an hourly line with gaps (outgoing delivery success rate), and daily bars (a
campaign's spend over 30 days, in the ads admin). Every text that
reaches the markup goes through Django's escaping; each bar and point carries a
<title> so hovering shows its numbers, and the chart an aria-label.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal

from django.utils import timezone
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 480, 170
LEFT, RIGHT, TOP, BOTTOM = 34, 8, 10, 40

# Status → colour, shared by the charts and their legends.
COLORS = {
    "completed": "#2e7d32", "delivered": "#2e7d32",
    "running": "#1565c0", "processing": "#1565c0",
    "pending": "#9e9e9e", "retrying": "#f9a825",
    "failed": "#c62828", "cancelled": "#6d4c41", "ignored": "#b0bec5",
}
_FALLBACK = "#7e57c2"


def _hour_label(hour: datetime) -> str:
    return f"{timezone.localtime(hour):%H:00}" if timezone.is_aware(hour) else f"{hour:%H:00}"


def _axes(hours: Sequence[datetime], top_value: str, *, label=None, every: int = 6) -> list[str]:
    plot_h = HEIGHT - TOP - BOTTOM
    parts = [
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + plot_h}" stroke="#999"/>',
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" y2="{TOP + plot_h}" stroke="#999"/>',
        f'<text x="{LEFT - 4}" y="{TOP + 8}" text-anchor="end" font-size="10">{escape(top_value)}</text>',
        f'<text x="{LEFT - 4}" y="{TOP + plot_h}" text-anchor="end" font-size="10">0</text>',
    ]
    step = (WIDTH - LEFT - RIGHT) / max(len(hours), 1)
    for i, hour in enumerate(hours):
        if i % every == 0 or i == len(hours) - 1:
            x = LEFT + step * i + step / 2
            parts.append(f'<text x="{x:.1f}" y="{TOP + plot_h + 14}" text-anchor="middle" font-size="10">'
                         f"{escape((label or _hour_label)(hour))}</text>")
    return parts


def _legend(keys: Sequence[str], totals: dict[str, int] | None = None) -> list[str]:
    parts, x = [], LEFT
    y = HEIGHT - 8
    for key in keys:
        label = f"{key} ({totals[key]})" if totals is not None else key
        parts.append(f'<rect x="{x}" y="{y - 8}" width="9" height="9" fill="{COLORS.get(key, _FALLBACK)}"/>'
                     f'<text x="{x + 12}" y="{y}" font-size="10">{escape(label)}</text>')
        x += 18 + 6 * len(label)
    return parts


def _svg(title: str, parts: list[str], css_class: str) -> SafeString:
    body = "".join(parts)
    return format_html(
        '<svg class="switchyard-chart {}" role="img" aria-label="{}" viewBox="0 0 {} {}" width="{}" height="{}" '
        'xmlns="http://www.w3.org/2000/svg">{}</svg>',
        css_class, title, WIDTH, HEIGHT, WIDTH, HEIGHT, mark_safe(body),  # noqa: S308 - every part built escaped
    )


def stacked_bars(*, title: str, hours: Sequence[datetime], values: dict[str, Sequence[int]],
                 order: Sequence[str]) -> SafeString:
    """One bar per hour, stacked by key in `order` (keys not in `order` follow, sorted)."""
    keys = [k for k in order if k in values] + sorted(k for k in values if k not in order)
    totals_per_hour = [sum(values[k][i] for k in keys) for i in range(len(hours))]
    peak = max(totals_per_hour, default=0) or 1
    plot_h = HEIGHT - TOP - BOTTOM
    step = (WIDTH - LEFT - RIGHT) / max(len(hours), 1)
    parts = _axes(hours, str(peak))
    for i, hour in enumerate(hours):
        y = TOP + plot_h
        for key in keys:
            n = values[key][i]
            if not n:
                continue
            h = plot_h * n / peak
            y -= h
            parts.append(
                f'<rect class="bar bar-{escape(key)}" x="{LEFT + step * i + 1:.1f}" y="{y:.1f}" '
                f'width="{max(step - 2, 1):.1f}" height="{h:.1f}" fill="{COLORS.get(key, _FALLBACK)}">'
                f"<title>{escape(_hour_label(hour))}: {n} {escape(key)}</title></rect>"
            )
    if not keys:
        parts.append(f'<text x="{WIDTH / 2}" y="{TOP + plot_h / 2}" text-anchor="middle" font-size="12" '
                     f'fill="#777">Nothing in the last 24 hours</text>')
    parts += _legend(keys, {k: sum(values[k]) for k in keys})
    return _svg(title, parts, "stacked-bars")


def rate_line(*, title: str, hours: Sequence[datetime], rates: Sequence[float | None]) -> SafeString:
    """A 0–100 % line, one point per hour; an hour without outcomes is a gap, not a zero."""
    plot_h = HEIGHT - TOP - BOTTOM
    step = (WIDTH - LEFT - RIGHT) / max(len(hours), 1)
    parts = _axes(hours, "100%")
    segment: list[str] = []
    segments: list[list[str]] = []
    for i, (hour, rate) in enumerate(zip(hours, rates, strict=True)):
        if rate is None:
            if segment:
                segments.append(segment)
            segment = []
            continue
        x, y = LEFT + step * i + step / 2, TOP + plot_h * (1 - rate)
        segment.append(f"{x:.1f},{y:.1f}")
        color = COLORS["delivered"] if rate >= 0.95 else (COLORS["retrying"] if rate >= 0.5 else COLORS["failed"])
        parts.append(f'<circle class="point" cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{color}">'
                     f"<title>{escape(_hour_label(hour))}: {100 * rate:.0f}% delivered</title></circle>")
    if segment:
        segments.append(segment)
    for points in segments:
        parts.insert(4, f'<polyline fill="none" stroke="#2e7d32" stroke-width="1.5" points="{" ".join(points)}"/>')
    if not any(r is not None for r in rates):
        parts.append(f'<text x="{WIDTH / 2}" y="{TOP + plot_h / 2}" text-anchor="middle" font-size="12" '
                     f'fill="#777">No deliveries in the last 24 hours</text>')
    return _svg(title, parts, "rate-line")


def daily_bars(*, title: str, days: Sequence[date], amounts: Sequence[Decimal], unit: str = "") -> SafeString:
    """One bar per day (a campaign's spend); the top of the axis is the highest day, labels every week."""
    peak = max(amounts, default=Decimal(0)) or Decimal(1)
    plot_h = HEIGHT - TOP - BOTTOM
    step = (WIDTH - LEFT - RIGHT) / max(len(days), 1)
    parts = _axes(days, f"{peak:.0f}", label=lambda d: f"{d:%d %b}", every=7)
    for i, (day, amount) in enumerate(zip(days, amounts, strict=True)):
        if not amount:
            continue
        h = float(plot_h * amount / peak)
        parts.append(
            f'<rect class="bar bar-spend" x="{LEFT + step * i + 1:.1f}" y="{TOP + plot_h - h:.1f}" '
            f'width="{max(step - 2, 1):.1f}" height="{h:.1f}" fill="{COLORS["running"]}">'
            f"<title>{escape(f'{day:%Y-%m-%d}')}: {escape(f'{amount:.2f} {unit}'.strip())}</title></rect>"
        )
    if not any(amounts):
        parts.append(f'<text x="{WIDTH / 2}" y="{TOP + plot_h / 2}" text-anchor="middle" font-size="12" '
                     f'fill="#777">No spend in these days</text>')
    parts += _legend([f"spend ({unit})" if unit else "spend"], None)
    return _svg(title, parts, "daily-bars")
