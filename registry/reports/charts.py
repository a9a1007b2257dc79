"""Charts as inline SVG, in pure Python: bar (grouped), stacked bar and line charts.

Deterministic by construction: the scale is computed in Decimal (no logarithms, whose last digit may
differ between C libraries), coordinates are rounded to one decimal place, attributes are written in
a fixed order, and text widths are estimated from character counts rather than measured with a font.
Readable in print: axis and tick labels, a legend, value labels on every bar (vertical when a
horizontal one would not fit), dash patterns that tell lines apart without colour, DejaVu Sans (the
font the project's setup installs) with generic fallbacks, no external resources.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from html import escape

from registry.reports.formatting import EXACT, display_number, exact_sum
from registry.reports.model import Chart, ChartKind, Number

FONT = "'DejaVu Sans', 'Liberation Sans', Arial, Helvetica, sans-serif"
WIDTH = 720
PLOT_HEIGHT = 250
# Print-safe, colour-blind-friendly palette (distinct in luminance too); dash patterns for lines.
PALETTE = ("#1f4e79", "#e08214", "#2e8b57", "#b2182b", "#6a51a3", "#8c6d31", "#4d9de0", "#6b6b6b")
DASHES = ("", "7 4", "2 3", "9 3 2 3", "4 4", "1 2")
INK = "#1a1a1a"
MUTED = "#555555"
GRID = "#d9d9d9"
TICK_FONT = 11
LABEL_FONT = 10
TITLE_FONT = 12
CHAR = 0.62  # estimated advance of one character, in ems (DejaVu Sans digits are 0.636)


def _f(x: float) -> str:
    text = f"{x:.1f}"
    return "0.0" if text == "-0.0" else text


def _text_width(text: str, size: float) -> float:
    return len(text) * size * CHAR


def _esc(text: str) -> str:
    return escape(text, quote=True)


def _nice_step(span: Decimal, target: int) -> Decimal:
    raw = EXACT.divide(span, Decimal(target))
    magnitude = Decimal(1).scaleb(raw.adjusted())  # 10 ** floor(log10(raw)), exactly
    for factor in (Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5), Decimal(10)):
        step = EXACT.multiply(factor, magnitude)
        if step >= raw:
            return step
    return EXACT.multiply(Decimal(10), magnitude)


@dataclass(frozen=True)
class Scale:
    low: Decimal
    high: Decimal
    step: Decimal

    def ticks(self) -> list[Decimal]:
        out = []
        value = self.low
        while value <= self.high:
            out.append(value)
            value = EXACT.add(value, self.step)
        return out


def nice_scale(low: Decimal, high: Decimal, target: int = 5) -> Scale:
    """Axis bounds that are whole multiples of a 1-2-2.5-5 step and include ``low``..``high``."""
    low = min(low, Decimal(0))
    high = max(high, Decimal(0))
    if high == low:
        high = EXACT.add(low, Decimal(1))
    step = _nice_step(EXACT.subtract(high, low), target)
    lo = EXACT.multiply(EXACT.divide(low, step).to_integral_value(rounding=ROUND_FLOOR), step)
    hi = EXACT.multiply(EXACT.divide(high, step).to_integral_value(rounding=ROUND_CEILING), step)
    return Scale(lo, hi, step)


def _tick_text(value: Decimal, step: Decimal) -> str:
    places = max(0, -step.normalize().as_tuple().exponent)  # type: ignore[operator]
    quantum = Decimal(1).scaleb(-places)
    value = value.quantize(quantum)
    if places == 0:
        return f"{int(value):,}"
    return format(value, ",f")


def _label(value: Number) -> str:
    return display_number(value)


def _wrap(text: str, width: float, size: float, max_lines: int = 3) -> list[str] | None:
    """Greedy word wrap into at most ``max_lines`` lines of ``width``; None when it does not fit."""
    lines: list[str] = []
    for word in text.split():
        if _text_width(word, size) > width:
            return None
        if lines and _text_width(lines[-1] + " " + word, size) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    if len(lines) > max_lines:
        return None
    return lines or [""]


class _Svg:
    def __init__(self) -> None:
        self.parts: list[str] = []

    def add(self, text: str) -> None:
        self.parts.append(text)

    def text(
        self,
        x: float,
        y: float,
        text: str,
        *,
        size: float = TICK_FONT,
        anchor: str = "middle",
        fill: str = INK,
        weight: str | None = None,
        rotate: float | None = None,
    ) -> None:
        attrs = f'x="{_f(x)}" y="{_f(y)}" font-size="{size:g}" text-anchor="{anchor}" fill="{fill}"'
        if weight:
            attrs += f' font-weight="{weight}"'
        if rotate is not None:
            attrs += f' transform="rotate({rotate:g} {_f(x)} {_f(y)})"'
        self.add(f"<text {attrs}>{_esc(text)}</text>")

    def line(self, x1: float, y1: float, x2: float, y2: float, stroke: str, width: float = 1.0) -> None:
        self.add(
            f'<line x1="{_f(x1)}" y1="{_f(y1)}" x2="{_f(x2)}" y2="{_f(y2)}" '
            f'stroke="{stroke}" stroke-width="{width:g}"/>'
        )

    def rect(self, x: float, y: float, w: float, h: float, fill: str) -> None:
        self.add(f'<rect x="{_f(x)}" y="{_f(y)}" width="{_f(w)}" height="{_f(h)}" fill="{fill}"/>')


def _legend_layout(names: list[str], left: float, right: float) -> tuple[list[tuple[float, float, str]], float]:
    """Positions of legend entries (x, y of the swatch's centre, name), wrapping; and the height used."""
    x, y = left, 10.0
    out = []
    for name in names:
        width = 14 + 6 + _text_width(name, TICK_FONT) + 18
        if x + width > right and x > left:
            x, y = left, y + 18
        out.append((x, y, name))
        x += width
    return out, y + 12


def render_chart_svg(chart: Chart) -> str:
    """The chart as a standalone ``<svg>`` element (no title: the caller prints it as a caption)."""
    series = [[Decimal(v) for v in s.values] for s in chart.series]
    n = len(chart.categories)
    stacked = chart.kind is ChartKind.STACKED_BAR
    if stacked:
        sums = [Decimal(exact_sum(s[i] for s in series)) for i in range(n)]
        scale = nice_scale(Decimal(0), max(sums))
    else:
        flat = [v for s in series for v in s]
        scale = nice_scale(min(flat), max(flat))
    ticks = scale.ticks()
    tick_labels = [_tick_text(t, scale.step) for t in ticks]

    # Horizontal layout: y title, tick labels, plot, (line charts) room for end labels.
    y_title = chart.y_title + (f" ({chart.unit})" if chart.unit and chart.y_title else chart.unit or "")
    left = 8 + (18 if y_title else 0) + max(_text_width(t, TICK_FONT) for t in tick_labels) + 8
    end_labels = chart.kind is ChartKind.LINE and (len(series) > 1 or n > 12)
    right_pad = 10.0
    if end_labels:
        right_pad = 10 + max(_text_width(_label(s.values[-1]), LABEL_FONT) for s in chart.series) + 6
    plot_left = left
    plot_right = WIDTH - right_pad
    plot_w = plot_right - plot_left
    band = plot_w / n
    if any(_wrap(c, band - 6, TICK_FONT) is None for c in chart.categories):
        # Category labels will be rotated: the first one reaches left of its category by cos(40 deg)
        # of its width; widen the left margin so it is not cut off.
        overhang = max(_text_width(c, TICK_FONT) for c in chart.categories) * 0.766 - band / 2 + 2
        if overhang > plot_left:
            plot_left = overhang
            plot_w = plot_right - plot_left
            band = plot_w / n

    # Vertical layout: legend, headroom for value labels, plot, category labels, x title.
    legend, legend_h = _legend_layout([s.name for s in chart.series], plot_left, plot_right)
    bar_kinds = chart.kind in (ChartKind.BAR, ChartKind.STACKED_BAR)
    groups = 1 if stacked or chart.kind is ChartKind.LINE else len(series)
    bar_w = band * 0.72 / groups
    top_labels: list[str]
    if stacked:
        top_labels = [_label(s) for s in sums]
    elif bar_kinds:
        top_labels = [_label(v) for s in chart.series for v in s.values]
    else:
        top_labels = [_label(v) for s in chart.series for v in s.values] if not end_labels else []
    widest = max((_text_width(t, LABEL_FONT) for t in top_labels), default=0.0)
    vertical_values = bar_kinds and widest > bar_w - 2
    headroom = (widest + 8) if vertical_values and bar_w >= LABEL_FONT + 1 else 18.0
    plot_top = legend_h + 6 + headroom
    plot_bottom = plot_top + PLOT_HEIGHT

    wrapped = [_wrap(c, band - 6, TICK_FONT) for c in chart.categories]
    rotate = any(lines is None for lines in wrapped)
    cat_labels = list(chart.categories)  # whole names, never truncated: rotated, the chart grows to fit
    widest_cat = max(_text_width(c, TICK_FONT) for c in cat_labels)
    line_count = 1 if rotate else max(len(lines or ()) for lines in wrapped)
    every = 1
    if rotate:
        every = max(1, int(-(-(TICK_FONT + 3) // band)))  # ceil: rotated labels need a line's height
        cat_h = widest_cat * 0.643 + TICK_FONT + 6  # sin(40 deg) of the text, plus its height
    else:
        cat_h = line_count * (TICK_FONT + 3) + 7
    height = plot_bottom + cat_h + (26 if chart.x_title else 6)

    span = float(EXACT.subtract(scale.high, scale.low))

    def y_of(value: Decimal) -> float:
        return plot_bottom - float(EXACT.subtract(value, scale.low)) / span * PLOT_HEIGHT

    svg = _Svg()
    svg.add(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{WIDTH}" height="{_f(height)}" '
        f'viewBox="0 0 {WIDTH} {_f(height)}" role="img" aria-label="{_esc(chart.title)}" '
        f'font-family="{_esc(FONT)}">'
    )
    # Legend.
    for i, (x, y, name) in enumerate(legend):
        colour = PALETTE[i % len(PALETTE)]
        if chart.kind is ChartKind.LINE:
            dash = DASHES[i % len(DASHES)]
            dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
            svg.add(
                f'<line x1="{_f(x)}" y1="{_f(y)}" x2="{_f(x + 14)}" y2="{_f(y)}" stroke="{colour}" '
                f'stroke-width="2.5"{dash_attr}/>'
            )
        else:
            svg.rect(x, y - 6, 14, 12, colour)
        svg.text(x + 20, y + 4, name, anchor="start")

    # Grid, y ticks and y axis title.
    for value, text in zip(ticks, tick_labels, strict=True):
        y = y_of(value)
        svg.line(plot_left, y, plot_right, y, GRID if value != 0 else MUTED, 1)
        svg.text(plot_left - 6, y + TICK_FONT * 0.35, text, anchor="end", fill=MUTED)
    if y_title:
        mid = (plot_top + plot_bottom) / 2
        svg.text(14, mid, y_title, size=TITLE_FONT, rotate=-90)
    svg.line(plot_left, plot_top - 4, plot_left, plot_bottom, MUTED, 1)

    # Data.
    zero = y_of(Decimal(0))
    if chart.kind is ChartKind.BAR:
        for si, values in enumerate(series):
            colour = PALETTE[si % len(PALETTE)]
            for ci, value in enumerate(values):
                x = plot_left + ci * band + band * 0.14 + si * bar_w
                y = y_of(value)
                top, h = (y, zero - y) if value >= 0 else (zero, y - zero)
                svg.rect(x + 0.5, top, bar_w - 1, max(h, 0.0), colour)
                _value_label(
                    svg, x + bar_w / 2, top if value >= 0 else top + h, value, bar_w, vertical_values, value < 0
                )
    elif stacked:
        for ci in range(n):
            x = plot_left + ci * band + band * 0.14
            base = Decimal(0)
            for si, values in enumerate(series):
                value = values[ci]
                if value == 0:
                    continue
                y_low, y_high = y_of(base), y_of(EXACT.add(base, value))
                colour = PALETTE[si % len(PALETTE)]
                svg.rect(x + 0.5, y_high, bar_w - 1, y_low - y_high, colour)
                text = _label(value)
                if y_low - y_high >= LABEL_FONT + 3 and _text_width(text, LABEL_FONT) <= bar_w - 4:
                    svg.text(
                        x + bar_w / 2, (y_low + y_high) / 2 + LABEL_FONT * 0.35, text, size=LABEL_FONT, fill="#ffffff"
                    )
                base = EXACT.add(base, value)
            _value_label(svg, x + bar_w / 2, y_of(sums[ci]), sums[ci], bar_w, vertical_values, False, bold=True)
    else:
        for si, values in enumerate(series):
            colour = PALETTE[si % len(PALETTE)]
            dash = DASHES[si % len(DASHES)]
            points = [(plot_left + (ci + 0.5) * band, y_of(v)) for ci, v in enumerate(values)]
            dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
            svg.add(
                '<polyline fill="none" stroke="{}" stroke-width="2.5" stroke-linejoin="round"{} points="{}"/>'.format(
                    colour, dash_attr, " ".join(f"{_f(x)},{_f(y)}" for x, y in points)
                )
            )
            for (x, y), value in zip(points, values, strict=True):
                svg.add(f'<circle cx="{_f(x)}" cy="{_f(y)}" r="3" fill="{colour}"/>')
                if not end_labels:
                    svg.text(x, y - 7, _label(value), size=LABEL_FONT)
            if end_labels:
                x, y = points[-1]
                svg.text(x + 7, y + LABEL_FONT * 0.35, _label(values[-1]), size=LABEL_FONT, anchor="start", fill=colour)

    # X axis: category labels and title.
    svg.line(plot_left, plot_bottom, plot_right, plot_bottom, MUTED, 1)
    for ci, text in enumerate(cat_labels):
        x = plot_left + (ci + 0.5) * band
        svg.line(x, plot_bottom, x, plot_bottom + 4, MUTED, 1)
        if ci % every:
            continue
        if rotate:
            svg.text(x + 3, plot_bottom + TICK_FONT + 4, text, anchor="end", rotate=-40)
        else:
            for li, line in enumerate(wrapped[ci] or ()):
                svg.text(x, plot_bottom + TICK_FONT + 6 + li * (TICK_FONT + 3), line)
    if chart.x_title:
        svg.text((plot_left + plot_right) / 2, height - 6, chart.x_title, size=TITLE_FONT)
    svg.add("</svg>")
    return "".join(svg.parts)


def _value_label(
    svg: _Svg,
    x: float,
    y: float,
    value: Number | Decimal,
    bar_w: float,
    vertical: bool,
    below: bool,
    *,
    bold: bool = False,
) -> None:
    text = _label(value)
    weight = "bold" if bold else None
    if not vertical:
        svg.text(x, y + (LABEL_FONT + 3 if below else -4), text, size=LABEL_FONT, weight=weight)
    elif bar_w >= LABEL_FONT + 1:
        if below:
            svg.text(x + LABEL_FONT * 0.35, y + 4, text, size=LABEL_FONT, anchor="end", rotate=-90, weight=weight)
        else:
            svg.text(x + LABEL_FONT * 0.35, y - 4, text, size=LABEL_FONT, anchor="start", rotate=-90, weight=weight)
