"""Which channels a deployment has configured, read as the settings read them.

`ticketflow pack check` needs no Temporal and no settings file of its own,
but a pack whose `do: slack` or `do: email` the deployment cannot carry out
must be refused before it goes live. The deployment's answer is whether
`SLACK_BOT_TOKEN` and `SMTP_URL` (or their `*_FILE` forms) are set in the
environment or in the current folder's `.env`, the places infra/settings.py
reads them from. Only whether they are set is looked at: no secret is read.
"""

from __future__ import annotations

import os
from pathlib import Path

from dotenv import dotenv_values

from packtools.channels import SETTING

CHANNELS = frozenset(SETTING)


def configured_channels(env_file: Path = Path(".env")) -> frozenset[str]:
    read = dotenv_values(env_file) if env_file.is_file() else {}
    dotenv = {k.upper(): v for k, v in read.items()}
    environ = {k.upper(): v for k, v in os.environ.items()}

    def is_set(name: str) -> bool:
        return any(bool(src.get(n)) for src in (environ, dotenv) for n in (name, f"{name}_FILE"))

    return frozenset(kind for kind, name in SETTING.items() if is_set(name))


def parse_channels(text: str) -> frozenset[str] | None:
    """`--channels`: 'auto' (None: read the deployment), 'none', or a comma list."""
    if text == "auto":
        return None
    if text == "none":
        return frozenset()
    chosen = frozenset(c.strip() for c in text.split(",") if c.strip())
    unknown = chosen - CHANNELS
    if unknown:
        raise ValueError(
            f"unknown channel(s) {', '.join(sorted(unknown))}: choose from slack, email, none, auto"
        )
    return chosen
