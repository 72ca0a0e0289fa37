"""The hub's one hardened XML parser (no DTDs, no entities, no network, size and depth capped).

It lives in canonical/xml.py because the codecs parse with it and canonical depends on nothing else
of the hub's; security names it here, where the security model documents it."""

from canonical.xml import UnsafeXml, parse_xml

__all__ = ["UnsafeXml", "parse_xml"]
