"""Charts drawn on the server as inline SVG: no JavaScript library, no CDN.

Pure functions from plain values to ``Markup``. Every text is escaped; every chart has
a ``<title>`` for screen readers and each bar a ``<title>`` that a pointer shows as a
tooltip. Colours come from Bootstrap's CSS variables, so the charts follow the theme.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from markupsafe import Markup, escape

from formulary.domain.units import format_quantity


@dataclass(frozen=True)
class Series:
    """One row of a small-multiples chart: a label, its unit and one value per period."""

    label: str
    unit: str
    values: Sequence[Decimal]

    @property
    def total(self) -> Decimal:
        return sum(self.values, Decimal(0))


def _num(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


#: One bar of ``small_multiples``, filled by ``str.format`` with escaped texts.
_BAR = ('<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="1" '
        'fill="var(--bs-primary, #0d6efd)"><title>{label}, {period}: {v} {u}</title></rect>')


def small_multiples(series: Sequence[Series], period_labels: Sequence[str], *, title: str,
                    chart_id: str, empty: str = "Nothing to show yet.") -> Markup:
    """One row of bars per series, each on its own scale (the units differ), with the
    series' total in its unit at the right. ``period_labels`` name the columns."""
    if not series:
        return Markup('<p class="text-muted small mb-0" data-chart="{}">{}</p>').format(
            chart_id, empty)
    n = len(period_labels)
    label_w, total_w, row_h, bar_gap = 150, 95, 30, 2
    plot_w = 12 * max(n, 1) * 2
    width = label_w + plot_w + total_w
    height = row_h * len(series) + 22
    step = plot_w / max(n, 1)
    periods = [escape(p) for p in period_labels]
    # plain strings filled by ``str.format``, every text escaped where it goes in, and
    # made Markup once at the end: ``Markup.format`` (which escapes each field through
    # ``string.Formatter``) cost more than the rest of the chart
    parts = [('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" '
              'class="w-100" role="img" aria-labelledby="{id}-title" data-chart="{id}">'
              '<title id="{id}-title">{t}</title>').format(w=width, h=height, id=escape(chart_id),
                                                           t=escape(title))]
    for i, s in enumerate(series):
        top = i * row_h
        peak = max((v for v in s.values), default=Decimal(0))
        label, unit = escape(s.label), escape(s.unit)
        parts.append('<g data-series="{}">'.format(label))
        parts.append('<text x="0" y="{y}" font-size="11" dominant-baseline="middle" '
                     'fill="currentColor">{label}</text>'.format(
                         y=_num(top + row_h / 2), label=escape(_clip(s.label, 22))))
        for j, value in enumerate(s.values):
            h = 0.0 if peak <= 0 else float(value / peak) * (row_h - 6)
            x = label_w + j * step + bar_gap / 2
            # the bars are most of the chart: the texts escaped once, the numbers are digits
            parts.append(_BAR.format(
                x=_num(x), y=_num(top + row_h - 3 - h), w=_num(step - bar_gap), h=_num(h),
                label=label, period=periods[j], v=escape(format_quantity(value, 2)), u=unit))
        parts.append('<line x1="{x1}" x2="{x2}" y1="{y}" y2="{y}" stroke="#adb5bd" '
                     'stroke-width="0.5"/>'.format(x1=label_w, x2=label_w + plot_w,
                                                   y=_num(top + row_h - 3)))
        total = s.total
        parts.append('<text x="{x}" y="{y}" font-size="11" dominant-baseline="middle" '
                     'fill="currentColor" data-total="{raw}">{v} {u}</text>'.format(
                         x=label_w + plot_w + 8, y=_num(top + row_h / 2), raw=escape(total),
                         v=escape(format_quantity(total, 2)), u=unit))
        parts.append("</g>")
    base = row_h * len(series) + 14
    for j in (0, n - 1) if n > 1 else (0,):
        parts.append('<text x="{x}" y="{y}" font-size="10" fill="#6c757d" '
                     'text-anchor="{a}">{t}</text>'.format(
                         x=_num(label_w + j * step + (0 if j == 0 else step)), y=base,
                         a="start" if j == 0 else "end", t=periods[j]))
    parts.append("</svg>")
    return Markup("".join(parts))


def bar_chart(labels: Sequence[str], values: Sequence[int], notes: Sequence[str], *,
              title: str, chart_id: str, unit: str = "") -> Markup:
    """Vertical bars, one per label, the value above each bar and a note (e.g. the
    value in money) under its label."""
    n = len(labels)
    width, height, pad_top, pad_bottom = 360, 170, 18, 40
    plot_h = height - pad_top - pad_bottom
    step = width / max(n, 1)
    peak = max(values, default=0)
    parts = [Markup('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" '
                    'class="w-100" role="img" aria-labelledby="{id}-title" data-chart="{id}">'
                    '<title id="{id}-title">{t}</title>').format(w=width, h=height, id=chart_id,
                                                                 t=title)]
    for i, (label, value, note) in enumerate(zip(labels, values, notes)):
        h = 0.0 if peak <= 0 else value / peak * plot_h
        x = i * step + step * 0.15
        w = step * 0.7
        y = pad_top + plot_h - h
        parts.append(Markup(
            '<g data-bar="{label}" data-value="{v}">'
            '<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="2" '
            'fill="var(--bs-warning, #ffc107)"><title>{label}: {v} {unit} {note}</title></rect>'
            '<text x="{cx}" y="{ty}" font-size="11" text-anchor="middle" '
            'fill="currentColor">{v}</text>'
            '<text x="{cx}" y="{ly}" font-size="11" text-anchor="middle" '
            'fill="currentColor">{label}</text>'
            '<text x="{cx}" y="{ny}" font-size="9" text-anchor="middle" fill="#6c757d">{note}'
            '</text></g>').format(
            label=label, v=value, unit=unit, note=note, x=_num(x), y=_num(y), w=_num(w),
            h=_num(h), cx=_num(x + w / 2), ty=_num(y - 4), ly=height - pad_bottom + 14,
            ny=height - pad_bottom + 28))
    parts.append(Markup('<line x1="0" x2="{w}" y1="{y}" y2="{y}" stroke="#adb5bd" '
                        'stroke-width="0.5"/>').format(w=width, y=pad_top + plot_h))
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)


def _clip(text: str, length: int) -> str:
    return text if len(text) <= length else text[:length - 1] + "\u2026"


__all__ = ["Series", "bar_chart", "escape", "small_multiples"]
