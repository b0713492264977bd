"""Login throttling: a client that keeps sending wrong operator tokens is
made to wait.

Why: a token is the only thing between the internet and the console's
buttons, and without a limit a guesser gets an immediate answer to every
try. After LIMIT failed logins from one client within WINDOW seconds, the
login answers 429 with `Retry-After` (seconds, until the oldest of those
failures leaves the window) without looking at the token; a successful
login clears the client's count.

A client is the peer address the server reports (uvicorn replaces it with
X-Forwarded-For only from the proxies FORWARDED_ALLOW_IPS trusts); an IPv6
client counts by its /64, the block one machine is usually given. Memory is
bounded: at most MAX_CLIENTS are tracked, expired ones are dropped first and
then the least recently seen. The clock is injectable, so tests need no
sleeps. Counts live in one process: N bridge processes allow N times LIMIT.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable

LIMIT = 5
WINDOW = 300.0  # seconds
MAX_CLIENTS = 10_000


def client_key(host: str | None) -> str:
    """The throttled unit for a peer address: the address, or an IPv6 /64."""
    if not host:
        return "unknown"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


class LoginThrottle:
    def __init__(
        self,
        limit: int = LIMIT,
        window: float = WINDOW,
        max_clients: int = MAX_CLIENTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window = window
        self.max_clients = max_clients
        self.clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, client: str, now: float) -> deque[float] | None:
        times = self._failures.get(client)
        if times is None:
            return None
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._failures[client]
            return None
        return times

    def retry_after(self, client: str) -> int | None:
        """Seconds until `client` may try again, or None if it may now."""
        now = self.clock()
        times = self._recent(client, now)
        if times is None or len(times) < self.limit:
            return None
        return max(1, math.ceil(times[0] + self.window - now))

    def failed(self, client: str) -> int:
        """Count a failed login; the client's failures within the window."""
        now = self.clock()
        times = self._recent(client, now)
        if times is None:
            if len(self._failures) >= self.max_clients:
                self._make_room(now)
            times = self._failures[client] = deque(maxlen=self.limit)
        times.append(now)
        self._failures.move_to_end(client)
        return len(times)

    def succeeded(self, client: str) -> None:
        self._failures.pop(client, None)

    def __len__(self) -> int:
        return len(self._failures)

    def _make_room(self, now: float) -> None:
        for client in [c for c, times in self._failures.items() if times[-1] <= now - self.window]:
            del self._failures[client]
        while len(self._failures) >= self.max_clients:
            self._failures.popitem(last=False)  # the least recently seen
