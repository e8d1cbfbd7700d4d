"""Chameleon's service-unit balance, as the portal's balance service keeps it for every site.

One Service Unit (SU) is an hour of a base bare-metal node. A lease costs its length in hours times
the sum of the `su_factor` of every host Blazar picked (1.0 when a host has none); floating IP
reservations cost nothing. Blazar asks the balance service before it stores a lease
(`check-create`) and before it changes one (`check-update`), and tells it when a lease ends
(`on-end`), which cuts the charge to "now": deleting a lease early stops the billing.

The balance belongs to the project (its charge code, the Keystone project name) across every site.
Refusals are the portal's own texts; Blazar relays them as HTTP 400 (its
ExternalServiceFilterException), which the `openstack` CLI prints as `ERROR: <message>`.
Sources: ChameleonCloud/portal balance_service/enforcement/usage_enforcement.py; ChameleonCloud/blazar
blazar/enforcement/filters/external_service_filter.py and blazar/enforcement/exceptions.py.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from chameleon_twin.blazar_errors import BlazarError
from chameleon_twin.clock import db_date

# Generous, so ordinary runs never meet it; tests lower it through /_twin/projects/{name}/balance.
# (Chameleon's real allocation sizes are not in the public sources this twin follows.)
DEFAULT_ALLOCATION_SU = 100_000.0


def hours(start: datetime, end: datetime) -> float:
    return max(0.0, (end - start).total_seconds()) / 3600.0


@dataclass
class Charge:
    project: str
    region: str
    lease_id: str
    reservation_id: str
    start: datetime
    end: datetime
    hourly_cost: float

    @property
    def amount(self) -> float:
        return hours(self.start, self.end) * self.hourly_cost

    def record(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(start=db_date(self.start), end=db_date(self.end), amount=round(self.amount, 4))
        return out


class BalanceService:
    """Allocations and charges per project (charge code), shared by the twin's sites."""

    def __init__(self) -> None:
        self._allocated: dict[str, float] = {}
        self.charges: list[Charge] = []

    def allocated(self, project: str) -> float:
        return self._allocated.get(project, DEFAULT_ALLOCATION_SU)

    def charged(self, project: str) -> float:
        return sum(c.amount for c in self.charges if c.project == project)

    def left(self, project: str) -> float:
        return self.allocated(project) - self.charged(project)

    def set_balance(self, project: str, *, allocated: float | None = None, left: float | None = None) -> None:
        """Give the project an allocation of `allocated` SUs, or one that leaves `left` SUs now."""
        if allocated is None and left is None:
            raise ValueError("give allocated or left (SUs)")
        if allocated is None:
            allocated = self.charged(project) + float(left or 0)
        self._allocated[project] = float(allocated)

    def check_create(self, project: str, region: str, lease_id: str, start: datetime, end: datetime,
                     hourly_costs: dict[str, float]) -> None:
        """The portal's check-create: refuse what the balance cannot cover, else record the charges."""
        amount = hours(start, end) * sum(hourly_costs.values())
        left = self.left(project)
        if left - amount < 0:
            raise BlazarError(400, f"Reservation for project {project} would spend {amount:.2f} SUs, "
                                   f"only {left:.2f} left")
        for reservation_id, cost in hourly_costs.items():
            self.charges.append(Charge(project, region, lease_id, reservation_id, start, end, cost))

    def check_update(self, project: str, lease_id: str, start: datetime, end: datetime) -> None:
        """The portal's check-update: a longer lease must fit in what is left; the charges follow it."""
        mine = [c for c in self.charges if c.lease_id == lease_id]
        change = sum(hours(start, end) * c.hourly_cost - c.amount for c in mine)
        left = self.left(project)
        if change > left:
            raise BlazarError(400, f"Reservation update would spend {change:.2f} more SUs, only {left:.2f} left")
        for charge in mine:
            charge.start, charge.end = start, end

    def on_end(self, lease_id: str, now: datetime) -> None:
        """Stop charging a lease that ends (or is deleted) now: its charges end at `now` at the latest."""
        for charge in self.charges:
            if charge.lease_id == lease_id and charge.end > now:
                charge.end = max(charge.start, now)

    def state(self, project: str | None = None) -> dict[str, Any]:
        projects = sorted({c.project for c in self.charges} | set(self._allocated))
        if project is not None:
            projects = [project]
        return {name: {"allocated": self.allocated(name), "charged": round(self.charged(name), 4),
                       "left": round(self.left(name), 4),
                       "charges": [c.record() for c in self.charges if c.project == name]} for name in projects}
