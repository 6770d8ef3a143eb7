"""What the running local-sweep run may ask of its controller (owned by kerasweep.local).

Training code calls :func:`stop_requested` after each logged epoch; outside a local sweep it
is always False.
"""

from __future__ import annotations

_stop = False


def stop_requested() -> bool:
    """True once the local controller has decided the current run should stop."""
    return _stop
