"""The operator console: a board of open tickets and a ticket page with the
CLI's actions, served by the bridge at /console (and inside Chatwoot as a
Dashboard App at /console/chatwoot)."""

from console.routes import mount_console
from console.state import Console

__all__ = ["Console", "mount_console"]
