"""Charts drawn on the server as inline SVG: no JavaScript, no CDN, escaped like any HTML."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.html import format_html
from django.utils.safestring import SafeString

from calls.timeline.lanes import Lanes, Mark

COLOURS = {"info": "#417690", "warning": "#c77c02", "error": "#ba2121"}
WIDTH = 1200
GUTTER = 140  # lane titles
LANE_HEIGHT = 48
AXIS_HEIGHT = 28
CHAR_WIDTH = 6.6  # of the 12 px label font, to know whether a label fits


def _join(parts: list[SafeString]) -> SafeString:
    return format_html("{}" * len(parts), *parts)


def lane_chart(lanes: Lanes) -> SafeString:
    plot = WIDTH - GUTTER - 20
    height = LANE_HEIGHT * len(lanes.lanes) + AXIS_HEIGHT

    def x(seconds: float) -> float:
        return round(GUTTER + (seconds - lanes.start) / lanes.duration * plot, 1)

    parts = []
    for tick in lanes.ticks:
        parts.append(
            format_html(
                '<line x1="{0}" x2="{0}" y1="0" y2="{1}" class="grid"/>'
                '<text x="{0}" y="{2}" text-anchor="middle" class="tick">{3}</text>',
                x(tick.seconds),
                height - AXIS_HEIGHT,
                height - 8,
                tick.label,
            )
        )
    for index, lane in enumerate(lanes.lanes):
        top = index * LANE_HEIGHT
        middle = top + LANE_HEIGHT / 2
        parts.append(
            format_html(
                '<g class="lane lane-{}"><rect x="0" y="{}" width="{}" height="{}" class="band{}"/>'
                '<text x="8" y="{}" class="lane-title">{}</text>',
                lane.key,
                top,
                WIDTH,
                LANE_HEIGHT,
                " odd" if index % 2 else "",
                middle + 4,
                lane.title,
            )
        )
        if not lane.marks:
            parts.append(
                format_html('<text x="{}" y="{}" class="none">none</text>', GUTTER, middle + 4)
            )
        parts += _marks(lane.marks, x, middle, right_edge=WIDTH - 4)
        parts.append(SafeString("</g>"))
    return format_html(
        '<svg class="mv-lanes" viewBox="0 0 {} {}" width="100%" role="img" '
        'aria-label="The call on four lanes over time">{}</svg>',
        WIDTH,
        height,
        _join(parts),
    )


def _marks(marks: list[Mark], x, middle: float, *, right_edge: float) -> list[SafeString]:
    """Shapes and their labels; point labels alternate above and below the line, so a
    label may run until the mark after next, and is cut (or left to the hover) rather
    than drawn over another."""
    parts = []
    ordered = sorted(marks, key=lambda m: m.start)
    xs = [x(mark.start) for mark in ordered]
    used_to = [0.0, 0.0]  # how far right each label row is taken
    for index, mark in enumerate(ordered):
        colour = COLOURS.get(mark.severity, COLOURS["info"])
        left = xs[index]
        row = index % 2
        baseline = middle - 11 if row == 0 else middle + 20
        limit = min(xs[index + 2] if index + 2 < len(xs) else right_edge, right_edge)
        on_span = False
        if mark.end is None:
            radius = 5 if mark.count == 1 else 8
            shape = format_html(
                '<circle cx="{}" cy="{}" r="{}" fill="{}"/>', left, middle, radius, colour
            )
            if mark.count > 1:
                shape = format_html(
                    '{}<text x="{}" y="{}" text-anchor="middle" class="count">{}</text>',
                    shape,
                    left,
                    middle + 3.5,
                    mark.count,
                )
        else:
            width = round(max(x(mark.end) - left, 3), 1)
            shape = format_html(
                '<rect x="{}" y="{}" width="{}" height="16" rx="3" fill="{}" '
                'fill-opacity="{}" stroke="{}"{}/>',
                left,
                middle - 8,
                width,
                colour,
                "0.25" if mark.open_ended else "0.8",
                colour,
                SafeString(' stroke-dasharray="4 3"') if mark.open_ended else "",
            )
            on_span = len(mark.label) * CHAR_WIDTH + 8 <= width
        if on_span:  # inside its own bar: takes no row
            label_x, label, baseline = round(left + 4, 1), mark.label, middle + 4
        else:
            label_x, label = _place(mark.label, left - 2, limit, used_to[row])
        if label and not on_span:
            used_to[row] = label_x + len(label) * CHAR_WIDTH
        text = (
            format_html(
                '<text x="{}" y="{}" class="label{}">{}</text>',
                label_x,
                baseline,
                " on-span" if on_span else "",
                label,
            )
            if label
            else ""
        )
        parts.append(format_html("<g><title>{}</title>{}{}</g>", mark.detail, shape, text))
    return parts


def _place(label: str, mark_x: float, limit: float, taken_to: float) -> tuple[float, str]:
    """Where a point's label goes: after the mark if it fits, else whole before the mark
    (the last marks, at the right edge), else cut to the room after it."""
    after = max(mark_x, taken_to + 4)
    width = len(label) * CHAR_WIDTH
    if after + width <= limit - 4:
        return round(after, 1), label
    before = mark_x - 6 - width
    if limit >= mark_x and before >= taken_to + 4 and before >= GUTTER:
        return round(before, 1), label
    return round(after, 1), _fit(label, limit - 4 - after)


def _fit(label: str, room: float) -> str:
    fits = int(room / CHAR_WIDTH)
    if fits >= len(label):
        return label
    if fits < 6:
        return ""
    return label[: fits - 1] + "…"


@dataclass(frozen=True)
class Bar:
    label: str  # under the bar (or beside it)
    value: int
    url: str  # the filtered list the bar stands for
    title: str  # on hover
    colour: str = COLOURS["info"]


def bar_chart(bars: list[Bar], *, label_every: int = 1, height: int = 150) -> SafeString:
    """Vertical bars, each a link to its list; every `label_every`-th bar is labelled."""
    width = 600
    plot_top, plot_bottom = 18, height - 22
    highest = max([bar.value for bar in bars] + [1])
    slot = round((width - 20) / max(len(bars), 1), 1)
    parts = []
    for index, bar in enumerate(bars):
        bar_height = round((plot_bottom - plot_top) * bar.value / highest, 1)
        left = round(10 + index * slot, 1)
        value = (
            format_html(
                '<text x="{}" y="{}" text-anchor="middle" class="value">{}</text>',
                round(left + slot / 2, 1),
                round(plot_bottom - bar_height - 4, 1),
                bar.value,
            )
            if bar.value
            else ""
        )
        caption = (
            format_html(
                '<text x="{}" y="{}" text-anchor="middle" class="tick">{}</text>',
                round(left + slot / 2, 1),
                height - 6,
                bar.label,
            )
            if index % label_every == 0
            else ""
        )
        parts.append(
            format_html(
                '<a href="{}"><title>{}</title><rect x="{}" y="{}" width="{}" '
                'height="{}" fill="{}"/><rect x="{}" y="{}" width="{}" height="{}" '
                'fill="transparent"/>{}</a>{}',
                bar.url,
                bar.title,
                round(left + 1, 1),
                round(plot_bottom - bar_height, 1),
                round(max(slot - 2, 1), 1),
                max(bar_height, 0.5),
                bar.colour,
                left,
                plot_top,
                slot,
                plot_bottom - plot_top,
                value,
                caption,
            )
        )
    return format_html(
        '<svg class="mv-bars" viewBox="0 0 {} {}" width="100%" role="img">'
        '<line x1="10" x2="{}" y1="{}" y2="{}" class="grid"/>{}</svg>',
        width,
        height,
        width - 10,
        plot_bottom,
        plot_bottom,
        _join(parts),
    )


def row_chart(rows: list[Bar], *, label_width: int = 230) -> SafeString:
    """Horizontal bars, one per row with its label and count, each a link to its list."""
    width, row_height = 600, 26
    highest = max([row.value for row in rows] + [1])
    plot = width - label_width - 50
    parts = []
    for index, row in enumerate(rows):
        top = index * row_height
        length = round(plot * row.value / highest, 1)
        parts.append(
            format_html(
                '<a href="{}"><title>{}</title><rect x="0" y="{}" width="{}" height="{}" '
                'fill="transparent"/><text x="0" y="{}" class="row-label">{}</text>'
                '<rect x="{}" y="{}" width="{}" height="16" fill="{}"/>'
                '<text x="{}" y="{}" class="value">{}</text></a>',
                row.url,
                row.title,
                top,
                width,
                row_height,
                top + 17,
                row.label,
                label_width,
                top + 4,
                max(length, 1),
                row.colour,
                round(label_width + max(length, 1) + 6, 1),
                top + 17,
                row.value,
            )
        )
    return format_html(
        '<svg class="mv-bars" viewBox="0 0 {} {}" width="100%" role="img">{}</svg>',
        width,
        row_height * len(rows),
        _join(parts),
    )
