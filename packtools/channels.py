"""Slack and e-mail steps that cannot reach anyone.

A `do: slack` to a party without a `slack:` id, a `do: email` to one
without an `email:` address (a special target such as `owner` is resolved
when the step runs, and skipped on record then if it has none), a channel
party paged, assigned or owning tickets (a channel is somewhere to post,
not someone), a channel with neither id nor address. Given the channels
this deployment has configured (`configured`: the start-up check passes
them from the settings), a pack that uses one it lacks (no
`SLACK_BOT_TOKEN`, no `SMTP_URL`) is refused too: every such step would fail.
"""

from __future__ import annotations

from collections.abc import Iterator

from models.policy import Policy
from packtools import vocabulary as vocab
from packtools.problems import Problem

SETTING = {"slack": "SLACK_BOT_TOKEN", "email": "SMTP_URL"}
CHANNEL_KINDS = ("slack", "email")
NOT_FOR_CHANNELS = ("page", "assign", "handoff")


def check_channels(p: Policy, configured: frozenset[str] | None = None) -> Iterator[Problem]:
    for kind, parties in (("people", p.people), ("teams", p.teams)):
        for pid, declared in parties.items():
            if declared.kind == "channel" and declared.slack is None and declared.email is None:
                yield Problem(
                    (kind, pid),
                    f"channel {pid!r} has neither a `slack:` id nor an `email:` address",
                    "add slack: C... (its channel id) or email: (its address)",
                    kind="channel-unreachable",
                    at_key=True,
                )
    for i, rule in enumerate(p.coverage):
        owner = p.party(rule.owner)
        if owner is not None and owner.kind == "channel":
            yield _not_someone(("coverage", i, "owner"), rule.owner, "own tickets")
    for site in vocab.sites(p):
        for j, step in enumerate(site.steps):
            loc = site.loc + (j,)
            party = p.party(step.target) if step.target else None
            if step.do in NOT_FOR_CHANNELS and party is not None and party.kind == "channel":
                yield _not_someone(loc + ("target",), str(step.target), f"be a {step.do} target")
            if step.do not in CHANNEL_KINDS:
                continue
            if configured is not None and step.do not in configured:
                yield Problem(
                    loc + ("do",),
                    f"`do: {step.do}` but {SETTING[step.do]} is not set: every such step "
                    "would fail",
                    f"set {SETTING[step.do]} (docs: Operating, Connecting "
                    f"{'Slack' if step.do == 'slack' else 'e-mail'})",
                    kind="channel-not-configured",
                )
            if party is None:
                continue  # an unknown party is reported as such; a special one resolves later
            if step.do == "slack" and party.slack is None:
                yield Problem(
                    loc + ("target",),
                    f"{step.target!r} has no `slack:` id: this `do: slack` has nowhere to post",
                    f"add slack: U... (a person's member id) or C... (a channel id) to "
                    f"{step.target}",
                    kind="missing-slack-id",
                )
            if step.do == "email" and party.email is None:
                yield Problem(
                    loc + ("target",),
                    f"{step.target!r} has no `email:` address: this `do: email` has nowhere to go",
                    f"add email: to {step.target}",
                    kind="missing-email",
                )


def _not_someone(loc: tuple, pid: str, what: str) -> Problem:
    return Problem(
        loc,
        f"{pid!r} is a channel: it cannot {what}",
        "name a person or a team; post to the channel with do: slack or do: email",
        kind="channel-not-a-party",
    )
