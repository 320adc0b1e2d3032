"""Short human durations (``45s``, ``12m``, ``3h05m``, ``2d4h``), stdlib only.

The projections' text uses it, and so does the SessionStart hook that writes the "how
long ago" phrases of a stored context at the moment it prints it (`hooks.context_cache`).
"""

from __future__ import annotations

__all__ = ["format_duration"]


def format_duration(seconds: float) -> str:
    """A short human duration: ``45s``, ``12m``, ``3h05m``, ``2d4h``."""
    s = int(max(0.0, seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s" if s < 600 else f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h{(s % 3600) // 60:02d}m"
    return f"{s // 86400}d{(s % 86400) // 3600}h"
