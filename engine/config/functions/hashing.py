"""Hash and crypto-ish functions over the UTF-8 bytes of a string."""

from __future__ import annotations

import base64
import hashlib
import uuid as _uuid

from engine.config.functions._base import Param, register
from engine.config.types import STRING

__all__: list[str] = []


def _hex(algo):
    def impl(s):
        return hashlib.new(algo, s.encode("utf-8")).hexdigest()
    return impl


def _b64(algo):
    def impl(s):
        return base64.b64encode(hashlib.new(algo, s.encode("utf-8")).digest()).decode("ascii")
    return impl


for _name in ("md5", "sha1", "sha256", "sha512"):
    register(_name, [Param("str", STRING)])(_hex(_name))
for _name in ("sha256", "sha512"):
    register("base64" + _name, [Param("str", STRING)])(_b64(_name))


@register("uuid", [])
def _uuid4():
    return str(_uuid.uuid4())


@register("uuidv5", [Param("namespace", STRING), Param("name", STRING)])
def _uuidv5(ns, name):
    from engine.config.functions._base import FunctionError
    known = {"dns": _uuid.NAMESPACE_DNS, "url": _uuid.NAMESPACE_URL, "oid": _uuid.NAMESPACE_OID,
             "x500": _uuid.NAMESPACE_X500}
    space = known.get(ns)
    if space is None:
        try:
            space = _uuid.UUID(ns)
        except ValueError:
            raise FunctionError(f'uuidv5() doesn\'t support namespace prefix "{ns}"', 0) from None
    return str(_uuid.uuid5(space, name))
