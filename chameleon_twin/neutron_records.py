"""Neutron record builders for the twin: each site's address plan, the network/subnet/port/floating
IP shapes Neutron v2.0 returns, and its list filters.

Pure functions over dicts, so `neutron.Neutron` keeps only state and routing.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass

from chameleon_twin.images import ADMIN_PROJECT_ID

_PAGING = {"fields", "limit", "marker", "sort_key", "sort_dir", "page_reverse"}


@dataclass(frozen=True)
class SiteNetworks:
    shared_cidr: str  # sharednet1
    public_cidr: str  # the external network's subnet; first half ad hoc, second half reserved by Blazar
    adhoc: str  # ad-hoc floating IP range (`floating ip create public`)
    reserved: str  # Blazar's virtual:floatingip range, a separate pool as on Chameleon


SITE_NETWORKS = {
    "uc": SiteNetworks("10.140.80.0/22", "192.5.86.0/23", "192.5.87.0/24", "192.5.86.0/24"),
    "tacc": SiteNetworks("10.52.0.0/22", "129.114.108.0/23", "129.114.108.0/24", "129.114.109.0/24"),
    # NCAR's real ranges are not in the public sources: a private sharednet1 and the RFC 2544
    # benchmarking block for "public", so no address here can be mistaken for a real one.
    "ncar": SiteNetworks("10.56.0.0/22", "198.18.0.0/23", "198.18.0.0/24", "198.18.1.0/24"),
}


def _std(record_id: str, project: str, created: str, **fields: object) -> dict:
    """The attributes every Neutron resource carries (standard-attr, tags, timestamps)."""
    return {"id": record_id, "tenant_id": project, "project_id": project, "description": "", "tags": [],
            "created_at": created, "updated_at": created, "revision_number": 1, **fields}


def network_record(net_id: str, name: str, project: str, created: str, *, subnet_id: str, shared: bool,
                   external: bool) -> dict:
    return _std(net_id, project, created, name=name, admin_state_up=True, status="ACTIVE", subnets=[subnet_id],
                shared=shared, mtu=1500, availability_zone_hints=[], availability_zones=["nova"],
                ipv4_address_scope=None, ipv6_address_scope=None, **{"router:external": external},
                port_security_enabled=True, dns_domain="", l2_adjacency=True, is_default=external,
                qos_policy_id=None)


def subnet_record(network: dict, name: str, cidr: str, project: str, created: str, *, dhcp: bool) -> dict:
    hosts = list(ipaddress.ip_network(cidr).hosts())
    return _std(network["subnets"][0], project, created, name=name, network_id=network["id"], ip_version=4,
                cidr=cidr, gateway_ip=str(hosts[0]), enable_dhcp=dhcp, dns_nameservers=["8.8.8.8", "8.8.4.4"],
                allocation_pools=[{"start": str(hosts[1]), "end": str(hosts[-1])}], host_routes=[],
                ipv6_ra_mode=None, ipv6_address_mode=None, subnetpool_id=None, service_types=[],
                dns_publish_fixed_ip=False)


def port_record(port_id: str, network_id: str, subnet_id: str, address: str, device_id: str, project: str,
                mac: str, created: str) -> dict:
    return _std(port_id, project, created, name="", network_id=network_id, mac_address=mac,
                fixed_ips=[{"subnet_id": subnet_id, "ip_address": address}], device_id=device_id,
                device_owner="compute:nova", status="ACTIVE", admin_state_up=True, allowed_address_pairs=[],
                extra_dhcp_opts=[], security_groups=[], port_security_enabled=False, dns_name="",
                dns_assignment=[], ip_allocation="immediate", propagate_uplink_status=False,
                **{"binding:vnic_type": "baremetal"})


def floating_ip_record(fip_id: str, address: str, network_id: str, project: str, created: str, *,
                       tags: list[str], description: str) -> dict:
    return _std(fip_id, project, created, floating_ip_address=address, floating_network_id=network_id,
                router_id=None, port_id=None, fixed_ip_address=None, status="DOWN", port_details=None,
                port_forwardings=[], qos_policy_id=None, qos_network_policy_id=None, dns_domain="", dns_name="",
                **{"tags": list(tags), "description": description})


def builtin_networks(cfg: SiteNetworks, make_id: Callable[[str], str]) -> tuple[dict, dict, dict[str, dict]]:
    """The admin-owned networks every site starts with: (sharednet1, public, their subnets by id).

    `make_id` turns a name such as "network/public" into the site's stable id for it.
    """
    created = "2021-06-14T15:02:47Z"
    sharednet = network_record(make_id("network/sharednet1"), "sharednet1", ADMIN_PROJECT_ID, created,
                               subnet_id=make_id("subnet/sharednet1"), shared=True, external=False)
    public = network_record(make_id("network/public"), "public", ADMIN_PROJECT_ID, created,
                            subnet_id=make_id("subnet/public"), shared=False, external=True)
    subnets = {s["id"]: s for s in (
        subnet_record(sharednet, "sharednet1-subnet", cfg.shared_cidr, ADMIN_PROJECT_ID, created, dhcp=True),
        subnet_record(public, "public-subnet", cfg.public_cidr, ADMIN_PROJECT_ID, created, dhcp=False))}
    return sharednet, public, subnets


def filter_records(records: list[dict], query: dict[str, list[str]]) -> list[dict]:
    """Neutron's list filters: repeated keys OR together, `tags`/`tags-any`/`not-tags…` on tag lists."""
    def shown(value: object) -> str:
        return str(value).lower() if isinstance(value, bool) else str(value)

    def keep(record: dict) -> bool:
        tags = set(record.get("tags", []))
        for key, values in query.items():
            wanted = {t for v in values for t in v.split(",") if t}
            if (key == "tags" and not wanted <= tags) or (key == "tags-any" and not wanted & tags):
                return False
            if (key == "not-tags" and wanted and wanted <= tags) or (key == "not-tags-any" and wanted & tags):
                return False
            if key in _PAGING or key.startswith(("tags", "not-tags")) or key not in record:
                continue
            if shown(record[key]) not in {v.lower() if isinstance(record[key], bool) else v for v in values}:
                return False
        return True

    return [r for r in records if keep(r)]


def usable_hosts(cidr: str) -> list[str]:
    """Usable addresses of a range, leaving .1 (gateway) and the top address out."""
    return [str(a) for a in ipaddress.ip_network(cidr).hosts()][1:-1]
