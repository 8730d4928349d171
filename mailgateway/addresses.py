"""Which addresses are ours: the support address (with any +suffix), the extra
addresses and whole support domains from the settings."""

from __future__ import annotations

from functools import lru_cache

from django.conf import settings
from django.core.signals import setting_changed


def _norm(address: str) -> str:
    return address.strip().strip("<>").strip().lower()


@lru_cache(maxsize=1)
def _ours() -> tuple[frozenset[str], frozenset[str]]:
    addresses = {_norm(settings.HELPDESK_SUPPORT_ADDRESS)}
    addresses.update(_norm(a) for a in getattr(settings, "HELPDESK_EXTRA_ADDRESSES", []))
    domains = {_norm(d).lstrip("@") for d in getattr(settings, "HELPDESK_SUPPORT_DOMAINS", [])}
    return frozenset(a for a in addresses if a), frozenset(d for d in domains if d)


def _clear(**kwargs: object) -> None:
    _ours.cache_clear()


setting_changed.connect(_clear, dispatch_uid="mailgateway_addresses_clear")


def is_our_address(address: str, *, domains: bool = True) -> bool:
    """True for support@, support+anything@, the extra addresses and (unless
    domains=False) any address at a support domain."""
    local, at, domain = _norm(address).rpartition("@")
    if not at or not local or not domain:
        return False
    addresses, support_domains = _ours()
    if domains and domain in support_domains:
        return True
    base = local.split("+", 1)[0]
    return f"{local}@{domain}" in addresses or f"{base}@{domain}" in addresses


def our_domains() -> frozenset[str]:
    """Domains our own Message-IDs and addresses live under."""
    addresses, domains = _ours()
    return frozenset({a.rpartition("@")[2] for a in addresses} | domains)
