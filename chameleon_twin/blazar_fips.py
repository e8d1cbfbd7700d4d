"""Blazar's reservable floating IPs (the virtual:floatingip plugin) for one site.

Operators register a finite set of addresses of the public network with Blazar; they lie outside
Neutron's own allocation pool, so reserved and ad hoc addresses never compete. A reservation is
given specific addresses when the lease is created, free over the whole lease window, preferring
addresses no live reservation holds (Blazar's `_matching_fips`). When fewer than `amount` qualify,
or the network is not the one the addresses belong to, Blazar refuses the lease with
"Not enough floating IPs available" (NotEnoughFloatingIPAvailable, an InvalidInput: HTTP 400).
Source: ChameleonCloud/blazar blazar/plugins/floatingips/floatingip_plugin.py, blazar/manager/exceptions.py.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from datetime import datetime

from chameleon_twin.blazar_errors import BlazarError
from chameleon_twin.blazar_leases import FLOATING_IP, Lease

NOT_ENOUGH = "Not enough floating IPs available"


class FloatingIpPool:
    def __init__(self, network_id: str, addresses: list[str]) -> None:
        self.network_id = network_id
        self._range = list(addresses)
        self.size = len(addresses)

    def addresses(self) -> list[str]:
        """The addresses registered with Blazar now (the first `size` of the site's reserved range)."""
        return self._range[: self.size]

    def resize(self, size: int) -> int:
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ValueError("size must be a non-negative integer")
        self.size = min(size, len(self._range))
        return self.size

    @staticmethod
    def _held(leases: Iterable[Lease]) -> list[tuple[Lease, str]]:
        return [(lease, address) for lease in leases if not lease.released
                for res in lease.reservations if res.resource_type == FLOATING_IP for address in res.addresses]

    def pick(self, network_id: str, required: list[str], amount: int, start: datetime, end: datetime,
             leases: Iterable[Lease]) -> list[str]:
        """Addresses for a new reservation over [start, end], or Blazar's refusal."""
        for address in required:
            try:
                ipaddress.ip_address(address)
            except ValueError:
                raise BlazarError(400, f"IP address {address} is invalid form.") from None
        candidates = self.addresses() if network_id == self.network_id else []
        held = self._held(leases)
        ever = {address for _, address in held}
        busy = {address for lease, address in held if lease.start < end and lease.end > start}
        free = [a for a in candidates if a not in busy]
        if any(a not in free for a in required):
            raise BlazarError(400, NOT_ENOUGH)
        fresh = [a for a in free if a not in ever and a not in required]
        reused = [a for a in free if a in ever and a not in required]
        picked = (list(required) + fresh + reused)[:amount]
        if len(picked) < amount:
            raise BlazarError(400, NOT_ENOUGH)
        return picked
