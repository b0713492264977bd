"""The what-if report as text: the pack in force and the draft side by side,
the tickets whose outcome changed (with a link to each in the Web UI), and
every difference between the replay and what really happened."""

from __future__ import annotations

from dryrun.whatif import WhatIf
from dryrun.whatif_metrics import PAGE

MAX_CHANGES = 50  # tickets listed in full; the JSON has them all
MAX_DIFFERENCES = 50


def _dur(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = round(seconds)
    if seconds < 120:
        return f"{seconds}s"
    return (
        f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
        if seconds >= 3600
        else f"{seconds // 60}m{seconds % 60:02d}s"
    )


def _delta(a, b) -> str:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and a != b:
        return f"{b - a:+d}" if isinstance(a, int) and isinstance(b, int) else ""
    return ""


def rows(w: WhatIf) -> list[tuple[str, str, str, str]]:
    """(metric, current, draft, change) lines of the side-by-side table."""
    c, d = w.current, w.draft
    out: list[tuple[str, object, object]] = [("tickets replayed", c.tickets, d.tickets)]
    for clock in sorted(set(c.breaches) | set(d.breaches)):
        out.append((f"breaches: {clock}", c.breaches[clock], d.breaches[clock]))
    out.append(("pages", sum(c.pages.values()), sum(d.pages.values())))
    for who in sorted(set(c.pages) | set(d.pages)):
        out.append((f"  pages to {who}", c.pages[who], d.pages[who]))
    out += [
        ("private notes", c.notes, d.notes),
        ("Slack posts", c.slack_posts, d.slack_posts),
        ("e-mails", c.emails, d.emails),
        ("customer messages", c.messages, d.messages),
        ("customer messages suppressed", c.suppressed, d.suppressed),
        ("tickets paged", len(c.first_page), len(d.first_page)),
    ]
    if c.withheld or d.withheld:  # tickets in shadow mode: counted above as if sent
        out.append(("  of which withheld (shadow mode)", c.withheld, d.withheld))
    lines = [(name, str(a), str(b), _delta(a, b)) for name, a, b in out]
    for q in (50, 90):
        lines.append((f"time to first page p{q}", _dur(c.percentile(q)), _dur(d.percentile(q)), ""))
    lines.append(
        (
            "pages after hours (not Mon-Fri 9-17)",
            str(c.after_hours),
            str(d.after_hours),
            _delta(c.after_hours, d.after_hours),
        )
    )
    return lines


def _table(w: WhatIf) -> list[str]:
    lines = rows(w)
    head = ("", "in force", f"draft {w.draft_version}", "change")
    widths = [max(len(r[i]) for r in [head, *lines]) for i in range(4)]

    def fmt(r: tuple[str, ...]) -> str:
        return "  ".join(
            x.ljust(widths[i]) if i == 0 else x.rjust(widths[i]) for i, x in enumerate(r)
        )

    return [fmt(head), fmt(tuple("-" * n for n in widths)), *map(fmt, lines)]


def _change_lines(w: WhatIf) -> list[str]:
    if not w.changes:
        return ["No ticket's outcome changes."]
    out = [f"{len(w.changes)} tickets' outcome changes."]
    hit: dict[str, list[tuple[int, int, str]]] = {}
    for ch in w.changes:
        for who in ch.people():
            plus = sum(1 for k, t, _ in ch.added if k == PAGE and t == who)
            minus = sum(1 for k, t, _ in ch.removed if k == PAGE and t == who)
            hit.setdefault(who, []).append((plus, minus, ch.workflow_id))
    for who, items in sorted(hit.items()):
        extra = [wid for plus, minus, wid in items if plus > minus]
        added, removed = sum(p for p, _, _ in items), sum(m for _, m, _ in items)
        line = f"  {who}: pages +{added} -{removed} on {len(items)} tickets"
        out.append(
            line
            + (
                f"; paged more often on {', '.join(extra[:5])}" + (" ..." if len(extra) > 5 else "")
                if extra
                else ""
            )
        )
    for ch in w.changes[:MAX_CHANGES]:
        people = ", ".join(sorted(ch.people()))
        out.append(
            f"  {ch.workflow_id}" + (f"  (pages: {people})" if people else "") + f"  {ch.url}"
        )
        for sign, changed in (("+", ch.added), ("-", ch.removed)):
            for kind, target, at in changed:
                what = "page" if kind == PAGE else kind
                out.append(f"      {sign} {at}  {what}" + (f" -> {target}" if target else ""))
    if len(w.changes) > MAX_CHANGES:
        out.append(f"  ... and {len(w.changes) - MAX_CHANGES} more (--json lists them all)")
    return out


def _reality_lines(w: WhatIf) -> list[str]:
    if not w.differences:
        live = w.replayed - w.imported
        return [
            f"Replay vs reality: no difference ({live} tickets replayed against the pack "
            "they ran reproduce their audit trail action for action)."
        ]
    tickets = len({d.workflow_id for d in w.differences})
    n = len(w.differences)
    out = [
        f"Replay vs reality: {n} DIFFERENCE{'S' if n > 1 else ''} on {tickets} "
        f"ticket{'s' if tickets > 1 else ''} (a defect in the recording, the replay or the "
        "workflow; the draft's figures for them are suspect):"
    ]
    for d in w.differences[:MAX_DIFFERENCES]:
        out.append(f"  {d.workflow_id}  {d.key + '  ' if d.key else ''}{d.what}")
    if len(w.differences) > MAX_DIFFERENCES:
        out.append(f"  ... and {len(w.differences) - MAX_DIFFERENCES} more (--json lists them all)")
    return out


def format_text(w: WhatIf, heatmap: str | None = None) -> str:
    out = [
        f"What if {w.pack} ran draft {w.draft_version}: tickets opened "
        f"{w.since:%Y-%m-%d %H:%M} to {w.until:%Y-%m-%d %H:%M} UTC, replayed in "
        f"{w.seconds:.1f}s (no Chatwoot, PagerDuty or audit call)"
    ]
    if w.versions:
        out.append(
            "Replayed against the content each ticket ran: "
            + "; ".join(f"{v}: {n} tickets" for v, n in sorted(w.versions.items()))
        )
    for version, wids in sorted(w.unavailable.items()):
        out.append(
            f"NOT REPLAYED: {len(wids)} tickets ran {w.pack} {version}, whose content was "
            f"never recorded (no worker with pack recording loaded it), e.g. {wids[0]}"
        )
    if w.imported:
        out.append(
            f"Imported from Chatwoot: {w.imported} of these tickets are past conversations "
            "(`ticketflow import chatwoot`); the pack in force is replayed on them as the "
            "draft is, with no live run to check against"
        )
    if w.unrecorded:
        out.append(
            f"Not replayed: {w.unrecorded} tickets in the audit trail have no recorded inputs "
            f"(started before input recording)"
        )
    out += ["", *_table(w), "", *_change_lines(w)]
    if w.dropped or w.recounted:
        out.append(
            f"Draft notes: {w.dropped} recorded inputs came after the draft had closed their "
            f"ticket (dropped); {w.recounted} recent-level queries only the draft asks were "
            f"counted from the audit trail as it was."
        )
    out += [f"Note: {n}" for n in w.notes]
    out += ["", *_reality_lines(w)]
    if heatmap:
        out.append(f"\nPage load by hour of week (in force vs draft): {heatmap}")
    return "\n".join(out)
