"""SIP URIs to gateway addresses (``host:port``), the key that joins registrations, dispatcher
destinations, dialog profiles and instances."""

from __future__ import annotations

import re

_URI = re.compile(
    r"^<?(?P<scheme>sips?):(?:[^@;>]*@)?(?P<host>\[[0-9A-Fa-f:.]+\]|[^:;>?]+)(?::(?P<port>\d+))?",
    re.IGNORECASE,
)


def address_of(uri: str) -> str | None:
    """``sip:gw1@127.0.0.1:5071;transport=udp`` -> ``127.0.0.1:5071``; default port 5060 (5061
    for ``sips``). None when ``uri`` is not a SIP URI."""
    match = _URI.match(uri.strip())
    if not match:
        return None
    port = match["port"] or ("5061" if match["scheme"].lower() == "sips" else "5060")
    return f"{match['host'].lower()}:{int(port)}"


def contact_address(contact: str, received: str | None = None) -> str | None:
    """The address a registration is reached at: ``received`` (set when the registrar fixed a
    NATed contact) wins over the Contact URI."""
    if received:
        fixed = address_of(received)
        if fixed:
            return fixed
    return address_of(contact)


def destination(address: str) -> str:
    """The dispatcher destination (and dialog profile value) of a gateway address."""
    return f"sip:{address}"
