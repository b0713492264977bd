"""Run one sandbox stand-in as its own process (the fault suite kills and
restarts processes, so each piece lives in one):

    python -m tests.faults.serve chatwoot --port 9001 --token T
    python -m tests.faults.serve pagerduty --port 9002 --keys K1,K2

`--port 0`: the OS picks a free port as uvicorn binds it; the fault stack
reads back which (`infra.processes.wait_listening`).
"""

from __future__ import annotations

import argparse

import uvicorn

from sandbox.chatwoot import create_chatwoot_app
from sandbox.pagerduty import create_pagerduty_app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("which", choices=["chatwoot", "pagerduty"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token", default="sandbox-token")
    parser.add_argument("--keys", default="")
    args = parser.parse_args()
    if args.which == "chatwoot":
        app = create_chatwoot_app(args.token, auto_create=True)
    else:
        app = create_pagerduty_app(set(args.keys.split(",")) if args.keys else None)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
