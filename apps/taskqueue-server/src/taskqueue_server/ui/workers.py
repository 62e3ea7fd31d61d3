"""Workers as the console shows them, derived from the running tasks' leases.

Workers do not register: a worker is known by the leases it holds. Its last heartbeat is not
stored either; a heartbeat moves the lease's expiry forward, so the latest expiry (and the
claim times) are what the page shows. A worker counts as alive while one of its leases has
not expired.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from taskqueue_server.db.console import Lease

__all__ = ["WorkerView", "group_leases"]


@dataclass(frozen=True)
class WorkerView:
    """One worker and the leases it holds."""

    name: str
    leases: list[Lease]
    latest_claim: datetime
    latest_expiry: datetime | None
    alive: bool


def group_leases(leases: list[Lease], now: datetime) -> list[WorkerView]:
    """Leases grouped by holder, busiest worker first."""
    by_worker: dict[str, list[Lease]] = {}
    for lease in leases:
        by_worker.setdefault(lease.worker, []).append(lease)
    views = []
    for name, held in by_worker.items():
        expiries = [lease.expires_at for lease in held if lease.expires_at is not None]
        latest_expiry = max(expiries) if expiries else None
        views.append(
            WorkerView(
                name=name,
                leases=held,
                latest_claim=max(lease.claimed_at for lease in held),
                latest_expiry=latest_expiry,
                alive=latest_expiry is not None and latest_expiry > now,
            )
        )
    return sorted(views, key=lambda v: (-len(v.leases), v.name))
