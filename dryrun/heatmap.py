"""The page load by hour of week, in force and draft side by side, as SVG.

Written by hand (a few rects and labels need no plotting library): every
colour is a presentation attribute, never a `style`, so the same markup
is shown inline by the console under its CSP (console/security.py).
"""

from __future__ import annotations

from collections import Counter
from html import escape

DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
CELL, LEFT, TOP, GAP = 14, 34, 34, 28


def _fill(n: int, peak: int) -> str:
    if n == 0:
        return "#f2f2f2"
    share = n / peak  # light to dark red, one scale for both grids
    r, g, b = 255, int(229 - 190 * share), int(217 - 190 * share)
    return f"#{r:02x}{g:02x}{b:02x}"


def _grid(heat: Counter, peak: int, x0: int, title: str) -> list[str]:
    out = [f'<text x="{x0}" y="16" font-size="12" font-weight="bold">{escape(title)}</text>']
    for h in range(0, 24, 3):
        out.append(f'<text x="{x0 + h * CELL}" y="{TOP - 4}" font-size="9">{h:02d}</text>')
    for d, day in enumerate(DAYS):
        y = TOP + d * CELL
        out.append(f'<text x="{x0 - LEFT + 4}" y="{y + CELL - 3}" font-size="10">{day}</text>')
        for h in range(24):
            n = heat.get((d, h), 0)
            out.append(
                f'<rect x="{x0 + h * CELL}" y="{y}" width="{CELL - 1}" height="{CELL - 1}" '
                f'fill="{_fill(n, peak)}"><title>{day} {h:02d}:00 {n} pages</title></rect>'
            )
    return out


def heatmap_svg(current: Counter, draft: Counter, timezone: str, draft_label: str = "draft") -> str:
    """Two 7x24 grids (pages by weekday and hour, in the pack's time zone)."""
    peak = max([1, *current.values(), *draft.values()])
    width = LEFT + 24 * CELL
    total = 2 * width + GAP
    height = TOP + 7 * CELL + 26
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{total}" height="{height}" '
        f'viewBox="0 0 {total} {height}" role="img" '
        'aria-label="Pages by hour of week, in force and draft" '
        f'font-family="sans-serif" fill="#222">'
    ]
    parts += _grid(current, peak, LEFT, f"in force: {sum(current.values())} pages")
    parts += _grid(draft, peak, width + GAP + LEFT, f"{draft_label}: {sum(draft.values())} pages")
    parts.append(
        f'<text x="{LEFT}" y="{height - 6}" font-size="9">hours in {escape(timezone)}; '
        f"darkest = {peak} pages in an hour</text>"
    )
    parts.append("</svg>")
    return "\n".join(parts)
