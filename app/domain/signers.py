"""What the signing path records about a signature besides who signed: where it came from (an
IP prefix and the signer's email domain, for the moderators' fraud signals and invalidation by
prefix or domain) and which emails the signer asked for."""
import ipaddress
from typing import NamedTuple

# How much of an address a signature keeps: the block one household or small network shares,
# never the address itself (docs/SECURITY.md).
IPV4_PREFIX, IPV6_PREFIX = 24, 48
NOTIFY_RESPONSE, NOTIFY_CLOSE = "r", "c"  # the opt-in flags, as the outbox and SQL carry them


class SignerContext(NamedTuple):  # built for every signature: a tuple costs least
    ip_prefix: str = ""  # "203.0.113.0/24", "" when unknown
    email_domain: str = ""  # "example.com", "" when unknown
    notify: str = ""  # NOTIFY_RESPONSE and/or NOTIFY_CLOSE

    @classmethod
    def of(cls, client_ip, email_domain, notify):
        """What a signature from `client_ip` records: its prefix, never the address."""
        return cls(ip_prefix(client_ip), email_domain, notify)


def ip_prefix(address):
    """The network an address belongs to, as a CIDR string ("" for no or a malformed address)."""
    try:
        ip = ipaddress.ip_address((address or "").strip())
    except ValueError:
        return ""
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    bits = IPV4_PREFIX if ip.version == 4 else IPV6_PREFIX
    return str(ipaddress.ip_network((ip, bits), strict=False))


def parse_ip_prefix(text):
    """A moderator's prefix (an address or a CIDR block) as the stored prefix it names, or None.
    A block wider than the stored prefix is refused: signatures only keep their own block."""
    text = (text or "").strip()
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None
    stored = IPV4_PREFIX if network.version == 4 else IPV6_PREFIX
    if "/" in text and network.prefixlen != stored:
        return None
    return ip_prefix(str(network.network_address))


def notify_flags(on_response, on_close):
    return (NOTIFY_RESPONSE if on_response else "") + (NOTIFY_CLOSE if on_close else "")
