"""A Provider over the seed's cloud-provider object (``csp``).

The seed's CSP object offers ``instType`` (instance sizes), ``createInstance(type, name_prefix)``,
``destroyInstances(list_of_ips)`` and ``enumerateInstances()``. Their return shapes are not
specified, so this adapter accepts the usual ones:

- ``instType``: a mapping of type name to its CPUs (``{"c5.xlarge": 4}``) or to a mapping with
  ``cpu``/``cpus``/``vcpus`` (a list of names is also accepted, CPUs unknown);
- ``enumerateInstances()``: a list of mappings (or objects) with a name (``name``/``id``) and an
  address (``public_ip``/``ip``/``private_ip``), or a list of IP strings;
- ``createInstance``: the created instance in the same shapes, or None.

Identity: the instance name when there is one, else its IP. Address: ``ip:sip_port`` (an IP
already given as ``host:port`` is kept). Only instances whose name starts
with the pool's prefix belong to the pool. An instance without an IP yet is listed ``pending``
with no address (the reconciler removes it after ``boot_timeout``, as the seed's ``cleanup()``).
The seed destroys by IP; an instance with no IP is destroyed through ``destroyInstancesByName``
when the CSP object has it, else the error says so.
"""

from __future__ import annotations

import builtins
import math
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import structlog

from fleetscale.errors import ConfigError, ProviderError
from fleetscale.model import Instance, InstanceState, InstanceType

log = structlog.get_logger(__name__)

_NAME_KEYS = ("name", "Name", "id", "instance_id", "InstanceId")
_IP_KEYS = ("public_ip", "publicIp", "PublicIpAddress", "ip", "address", "private_ip", "PrivateIpAddress")
_CPU_KEYS = ("cpu", "cpus", "vcpu", "vcpus", "numCPU")
_TYPE_KEYS = ("type", "instType", "InstanceType", "size")
_HOST_PORT = re.compile(r"^[^:\[\]]+:\d+$")
_TIME_KEYS = ("launched_at", "launch_time", "LaunchTime", "created_at", "created")


def _field(item: Any, keys: Sequence[str]) -> Any:
    for key in keys:
        value = item.get(key) if isinstance(item, Mapping) else getattr(item, key, None)
        if value not in (None, ""):
            return value
    return None


def instance_types(csp: Any, cpu_per_gw: int) -> tuple[InstanceType, ...]:
    """The seed's ``instType`` as fleetscale types: one gateway per instance (weight 1); a type
    with fewer CPUs than ``cpu_per_gw`` costs more (price = CPUs short, so it is chosen last).
    An empty or missing ``instType`` is a ConfigError (the seed crashed on it)."""
    raw = getattr(csp, "instType", None)
    if not raw:
        raise ConfigError(f"csp.instType: no instance type to launch gateways with (got {raw!r})")
    names = list(raw) if not isinstance(raw, Mapping) else list(raw.keys())
    out = []
    for name in names:
        spec = raw[name] if isinstance(raw, Mapping) else None
        plain = isinstance(spec, int | float) and not isinstance(spec, bool)
        cpus = spec if plain else _field(spec, _CPU_KEYS)
        cpus = float(cpus) if isinstance(cpus, int | float) and cpus > 0 else float(cpu_per_gw)
        price = cpus if cpus >= cpu_per_gw else cpus + 1000.0 * math.ceil(cpu_per_gw - cpus)
        out.append(InstanceType(str(name), 1, price))
    return tuple(out)


class CspProvider:
    def __init__(self, csp: Any, name_prefix: str, sip_port: int = 5060, clock: Any = None) -> None:
        self.csp = csp
        self.name_prefix = name_prefix
        self.sip_port = sip_port
        self.clock = clock
        self._requests: dict[str, list[str]] = {}
        self._first_seen: dict[str, datetime] = {}
        #: the IP exactly as the CSP reported it: destroyInstances gets it back unchanged
        self._raw_ip: dict[str, str] = {}

    def list(self) -> list[Instance]:
        try:
            raw = self.csp.enumerateInstances()
        except Exception as exc:  # the CSP object is foreign code: every failure is a provider error
            raise ProviderError(f"csp.enumerateInstances failed: {type(exc).__name__}: {exc}") from exc
        out = []
        for item in raw or []:
            inst = self._instance(item)
            # a bare IP carries no name to filter on: it belongs to the pool
            if inst is not None and (isinstance(item, str) or inst.id.startswith(self.name_prefix)):
                out.append(inst)
        return out

    def launch(self, type: str, count: int, request_id: str) -> builtins.list[Instance]:
        done = self._requests.setdefault(request_id, [])
        listed = {i.id: i for i in self.list()}
        created = [listed[i] for i in done if i in listed]
        for _ in range(max(0, count - len(done))):
            try:
                item = self.csp.createInstance(type, self.name_prefix)
            except Exception as exc:
                raise ProviderError(f"csp.createInstance({type!r}) failed: {type_name(exc)}: {exc}") from exc
            inst = self._instance(item) if item is not None else None
            if inst is None:
                log.info("csp created an instance it did not describe", type=type)
                continue
            done.append(inst.id)
            created.append(inst)
        return created

    def terminate(self, ids: Sequence[str], request_id: str) -> None:
        wanted = set(ids)
        found = [i for i in self.list() if i.id in wanted]
        ips = [self._raw_ip.get(i.id) or (i.address or "").rsplit(":", 1)[0] for i in found if i.address]
        nameless = [i.id for i in found if not i.address]
        try:
            if ips:
                self.csp.destroyInstances(ips)
            if nameless:
                by_name = getattr(self.csp, "destroyInstancesByName", None)
                if by_name is None:
                    raise ProviderError(f"csp: cannot destroy {nameless}: they have no IP and the CSP object "
                                        f"has no destroyInstancesByName")
                by_name(nameless)
        except ProviderError:
            raise
        except Exception as exc:
            raise ProviderError(f"csp.destroyInstances failed: {type_name(exc)}: {exc}") from exc

    def _instance(self, item: Any) -> Instance | None:
        started = None
        if isinstance(item, str):
            name, ip, itype = item, item, "gateway"
        else:
            ip = _field(item, _IP_KEYS)
            name = _field(item, _NAME_KEYS) or ip
            itype = _field(item, _TYPE_KEYS) or "gateway"
            started = _field(item, _TIME_KEYS)
        if not name:
            return None
        name = str(name)
        now = self.clock.now() if self.clock is not None else None
        launched = started if isinstance(started, datetime) else (
            self._first_seen.setdefault(name, now) if now is not None else None)
        address = None
        if ip:
            ip = str(ip)
            self._raw_ip[name] = ip
            if _HOST_PORT.match(ip) or ip.startswith("["):
                address = ip  # already host:port
            elif ip.count(":") > 1:
                address = f"[{ip}]:{self.sip_port}"
            else:
                address = f"{ip}:{self.sip_port}"
        state = InstanceState.READY if address else InstanceState.PENDING
        return Instance(id=name, type=str(itype), state=state, launched_at=launched, address=address,
                        tags={"fleetscale:csp": "seed"})


def type_name(exc: BaseException) -> str:
    return type(exc).__name__
