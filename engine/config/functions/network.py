"""IP network functions: cidrhost, cidrnetmask, cidrsubnet, cidrsubnets."""

from __future__ import annotations

import ipaddress

from engine.config.functions._base import FunctionError, Param, register
from engine.config.types import NUMBER, STRING
from engine.values import TList

__all__: list[str] = []


def _net(prefix: str, idx: int = 0):
    # Terraform reports CIDR problems as call failures, not argument errors
    if "/" not in prefix:
        raise FunctionError(f"invalid CIDR expression: invalid CIDR address: {prefix}")
    try:
        return ipaddress.ip_network(prefix, strict=False)
    except ValueError:
        raise FunctionError(f"invalid CIDR expression: invalid CIDR address: {prefix}") from None


def _whole(n, idx, what):
    if not isinstance(n, int):
        raise FunctionError("value must be a whole number")
    return n


@register("cidrhost", [Param("prefix", STRING), Param("hostnum", NUMBER)])
def _cidrhost(prefix, hostnum):
    net = _net(prefix)
    hostnum = _whole(hostnum, 1, "hostnum")
    size = net.num_addresses
    if hostnum < 0:
        hostnum += size
    if hostnum < 0 or hostnum >= size:
        raise FunctionError(f"prefix of {net.prefixlen} does not accommodate a host numbered {hostnum if hostnum >= 0 else hostnum - size}")
    return str(net.network_address + hostnum)


@register("cidrnetmask", [Param("prefix", STRING)])
def _cidrnetmask(prefix):
    net = _net(prefix)
    if net.version != 4:
        raise FunctionError(f"IPv6 addresses cannot have a netmask: {prefix}", 0)
    return str(net.netmask)


def _subnet(net, newbits: int, netnum: int):
    newlen = net.prefixlen + newbits
    if newlen > net.max_prefixlen:
        raise FunctionError(f"insufficient address space to extend prefix of {net.prefixlen} by {newbits}")
    if netnum < 0 or netnum >= (1 << newbits):
        raise FunctionError(f"prefix extension of {newbits} does not accommodate a subnet numbered {netnum}")
    base = int(net.network_address) + (netnum << (net.max_prefixlen - newlen))
    return ipaddress.ip_network((base, newlen))


@register("cidrsubnet", [Param("prefix", STRING), Param("newbits", NUMBER), Param("netnum", NUMBER)])
def _cidrsubnet(prefix, newbits, netnum):
    net = _net(prefix)
    newbits = _whole(newbits, 1, "newbits")
    netnum = _whole(netnum, 2, "netnum")
    return str(_subnet(net, newbits, netnum))


@register("cidrsubnets", [Param("prefix", STRING)], variadic=Param("newbits", NUMBER))
def _cidrsubnets(prefix, *newbits):
    net = _net(prefix)
    out = []
    current = int(net.network_address)
    for i, nb in enumerate(newbits):
        nb = _whole(nb, i + 1, "newbits")
        if nb < 1:
            raise FunctionError("must extend prefix by at least one bit", i + 1)
        newlen = net.prefixlen + nb
        if newlen > net.max_prefixlen:
            raise FunctionError(f"would extend prefix to {newlen} bits, which is too long for an IPv{net.version} address", i + 1)
        step = 1 << (net.max_prefixlen - newlen)
        if current % step:
            current += step - current % step
        sub = ipaddress.ip_network((current, newlen))
        if int(sub.broadcast_address) > int(net.broadcast_address):
            raise FunctionError(f"not enough remaining address space for a subnet with a prefix of {newlen} bits after {out[-1] if out else prefix}", i + 1)
        out.append(str(sub))
        current += step
    return TList(out, STRING)
