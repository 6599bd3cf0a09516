"""Domain-parking providers, recognised by the nameservers they have their customers delegate to.

A name is parked when one of its NS host names is a provider's suffix or ends
in "." + suffix. The list is short on purpose: only providers whose parking
nameservers live under a domain of their own, so a match is strong evidence.
It is not exhaustive; add a provider with the suffix its documentation gives
customers. Registrar default DNS (e.g. GoDaddy's domaincontrol.com) is not
here: it serves live sites as much as parked pages.
"""

from __future__ import annotations

from collections.abc import Iterable

# NS suffix -> provider, as shown in events and the JSON snapshot.
PARKING_PROVIDERS: dict[str, str] = {
    "sedoparking.com": "Sedo",
    "bodis.com": "Bodis",
    "parkingcrew.net": "ParkingCrew",
    "above.com": "Above.com",
    "dan.com": "Dan.com",
    "afternic.com": "Afternic",
    "uniregistrymarket.link": "Uniregistry",
}


def parking_provider(nameservers: Iterable[str]) -> str | None:
    """The provider of the first NS host under a parking suffix, or None."""
    for host in sorted(nameservers):
        host = host.strip().lower().rstrip(".")
        for suffix, provider in PARKING_PROVIDERS.items():
            if host == suffix or host.endswith("." + suffix):
                return provider
    return None
