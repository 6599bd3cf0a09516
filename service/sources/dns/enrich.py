"""What DNS says about one name: records, mail readiness, wildcard, parking; and what changed."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from service.sources.dns.errors import DnsError
from service.sources.dns.parking import parking_provider
from service.sources.dns.registration import Registration, decide, query_names
from service.sources.dns.resolver import STATES, Answer, DnsClient, State

# Keys of Enrichment.answers: record types, plus the two lookups that are not at the name.
AT_NAME = ("A", "AAAA", "CNAME", "MX", "TXT")
AT_REGISTRABLE = ("NS", "SOA")
DMARC = "DMARC"  # TXT at _dmarc.<registrable>
WILDCARD = "WILDCARD"  # A at <random label>.<registrable>
KEYS = (*AT_NAME, *AT_REGISTRABLE, DMARC, WILDCARD)

# Points added to a detection's 0-100 score (the caller caps at 100). A lookalike
# that resolves can serve a phishing page; one with MX can also receive replies
# and credentials by mail, and usually send mail as the brand's lookalike.
BOOST_RESOLVES = 5
BOOST_MX = 10

# Points taken off a lookalike served by the brand's own nameservers (ns1.paypal.com
# for paypal.de): a zone the brand's servers answer for is almost always the brand's
# own regional or defensive registration. Given back if it leaves them.
BRAND_NS_PENALTY = 30

EVENT_KINDS = (
    "first_resolution",
    "mx_appeared",
    "mx_gone",
    "ns_changed",
    "went_dark",
    "parked",
    "unparked",
    "brand_nameservers",
    "left_brand_nameservers",
)


@dataclass(frozen=True)
class Enrichment:
    """One snapshot of a name. Fields that depend on an unknown lookup are None, never False."""

    name: str
    registrable: str
    checked_at: datetime
    answers: dict[str, Answer] = field(default_factory=dict)

    def answer(self, key: str) -> Answer:
        found = self.answers.get(key)
        return found if found is not None else Answer(self.name, key, "unknown", detail="not asked")

    def records(self, key: str) -> tuple[str, ...]:
        found = self.answer(key)
        return found.records if found.state == "resolves" else ()

    @property
    def state(self) -> State:
        """About addresses: "resolves" when A or AAAA does; a name with only MX is "nodata"."""
        a, aaaa = self.answer("A"), self.answer("AAAA")
        if "resolves" in (a.state, aaaa.state):
            return "resolves"
        if "unknown" in (a.state, aaaa.state):
            return "unknown"
        return "nxdomain" if "nxdomain" in (a.state, aaaa.state) else "nodata"

    def _flag(self, key: str, present: bool) -> bool | None:
        return None if self.answer(key).state == "unknown" else present

    @property
    def has_mx(self) -> bool | None:
        # A null MX ("0 .", RFC 7505) says the name takes no mail.
        mx = [r for r in self.records("MX") if r.split()[-1] != "."]
        return self._flag("MX", bool(mx))

    @property
    def spf(self) -> bool | None:
        return self._flag("TXT", any(_is_spf(t) for t in self.records("TXT")))

    @property
    def dmarc(self) -> bool | None:
        texts = self.records(DMARC)
        return self._flag(DMARC, any(t.strip().lower().startswith("v=dmarc1") for t in texts))

    @property
    def soa(self) -> str | None:
        records = self.records("SOA")
        return records[0] if records else None

    @property
    def wildcard(self) -> bool | None:
        """A random label under the registrable domain exists (with any type): a wildcard."""
        probe = self.answer(WILDCARD)
        return None if probe.state == "unknown" else probe.state != "nxdomain"

    @property
    def parking_provider(self) -> str | None:
        return parking_provider(self.records("NS"))

    @property
    def parked(self) -> bool | None:
        return self._flag("NS", self.parking_provider is not None)

    @property
    def registration(self) -> Registration:
        """`registration_state` read from the NS and SOA answers already at hand."""
        return decide(self.answer("NS"), self.answer("SOA"))

    def to_json(self) -> dict[str, Any]:
        """A timestamped snapshot; `from_json` reads it back (the `answers` are the source)."""
        return {
            "name": self.name,
            "registrable": self.registrable,
            "checked_at": self.checked_at.isoformat(),
            "state": self.state,
            "registration": self.registration,
            "a": list(self.records("A")),
            "aaaa": list(self.records("AAAA")),
            "cname": list(self.records("CNAME")),
            "mx": list(self.records("MX")),
            "ns": list(self.records("NS")),
            "txt": list(self.records("TXT")),
            "soa": self.soa,
            "has_mx": self.has_mx,
            "spf": self.spf,
            "dmarc": self.dmarc,
            "wildcard": self.wildcard,
            "parked": self.parked,
            "parking_provider": self.parking_provider,
            "answers": {key: _answer_json(a) for key, a in self.answers.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Enrichment:
        """The inverse of `to_json`; DnsError when the snapshot is not one."""
        try:
            answers = {key: _answer_from(key, raw) for key, raw in data["answers"].items()}
            return cls(
                name=str(data["name"]),
                registrable=str(data["registrable"]),
                checked_at=datetime.fromisoformat(data["checked_at"]),
                answers=answers,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise DnsError(f"not an enrichment snapshot: {exc!r}") from None


def _is_spf(text: str) -> bool:
    lowered = text.strip().lower()
    return lowered == "v=spf1" or lowered.startswith("v=spf1 ")


def _answer_json(answer: Answer) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": answer.name,
        "rdtype": answer.rdtype,
        "state": answer.state,
        "records": list(answer.records),
    }
    if answer.detail:
        out["detail"] = answer.detail
    if answer.cname_chain:
        out["cname_chain"] = list(answer.cname_chain)
    if answer.referral:
        out["referral"] = True
    return out


def _answer_from(key: str, raw: dict[str, Any]) -> Answer:
    state = raw["state"]
    if state not in STATES:
        raise ValueError(f"bad state {state!r}")
    return Answer(
        name=str(raw.get("name", "")),
        rdtype=str(raw.get("rdtype", key)),
        state=state,
        records=tuple(str(r) for r in raw.get("records", ())),
        detail=str(raw.get("detail", "")),
        cname_chain=tuple(str(c) for c in raw.get("cname_chain", ())),
        referral=bool(raw.get("referral", False)),
    )


def wildcard_probe_label() -> str:
    # Random enough that no real host has it; a fixed prefix keeps it recognisable in logs.
    return f"pw-wc-{secrets.token_hex(8)}"


async def enrich(client: DnsClient, name: str, *, now: datetime | None = None) -> Enrichment:
    """Look up everything about `name` at once (9 queries, concurrently).

    A, AAAA, CNAME, MX and TXT are asked at the name; NS and SOA at its
    registrable domain (the delegation is what parking and registration are
    about); DMARC at _dmarc.<registrable>, the organisational domain whose
    policy covers its subdomains; the wildcard probe at a random label under the
    registrable domain. `name` may be a URL or an IDN: the normalised ASCII host is asked
    (and is `Enrichment.name`). DnsError for a name that is not a domain under a public suffix.
    """
    host, registrable = query_names(name)
    lookups: list[tuple[str, str, str]] = [(key, host, key) for key in AT_NAME]
    lookups += [(key, registrable, key) for key in AT_REGISTRABLE]
    lookups.append((DMARC, f"_dmarc.{registrable}", "TXT"))
    lookups.append((WILDCARD, f"{wildcard_probe_label()}.{registrable}", "A"))
    results = await asyncio.gather(*(client.query(q, rdtype) for _, q, rdtype in lookups))
    return Enrichment(
        name=host,
        registrable=registrable,
        checked_at=now or datetime.now(UTC),
        answers={key: answer for (key, _, _), answer in zip(lookups, results, strict=True)},
    )


def last_known(snapshots: Iterable[Enrichment]) -> Enrichment | None:
    """What DNS last said on each lookup, from snapshots of one name given newest first.

    Each answer is the newest one that was not unknown, so a lookup that timed out
    leaves its previous answer standing: comparing against this, an unknown lookup
    is never a change, and a known one is compared with its own last known value
    (not with a snapshot in which it, unlike the name's addresses, went unanswered).
    None when there are no snapshots. Reads `snapshots` only until every lookup of
    KEYS has a known answer.
    """
    newest: Enrichment | None = None
    answers: dict[str, Answer] = {}
    for snapshot in snapshots:
        newest = newest or snapshot
        for key, answer in snapshot.answers.items():
            if answer.state != "unknown":
                answers.setdefault(key, answer)
        if all(key in answers for key in KEYS):
            break  # every lookup answered: older snapshots cannot change anything
    if newest is None:
        return None
    return Enrichment(newest.name, newest.registrable, newest.checked_at, answers)


def material_changes(old: Enrichment | None, new: Enrichment) -> list[str]:
    """Event kinds between two snapshots of one name, in EVENT_KINDS order.

    An event needs the new value to be known. The old snapshot may be None (first
    check) or unknown on a field: "no evidence before", so first_resolution and
    mx_appeared can fire. went_dark, mx_gone, ns_changed and unparked need both sides
    known: an unknown lookup is never read as a change. Callers pass `last_known` of
    the earlier snapshots as `old`.
    """
    events: list[str] = []
    old_state = old.state if old is not None else None
    if new.state == "resolves" and old_state != "resolves":
        events.append("first_resolution")
    if new.has_mx and (old is None or not old.has_mx):
        events.append("mx_appeared")
    if old is not None and old.has_mx and new.has_mx is False:
        events.append("mx_gone")
    if (
        old is not None
        and old.answer("NS").state == "resolves"
        and new.answer("NS").state == "resolves"
        and set(old.records("NS")) != set(new.records("NS"))
    ):
        events.append("ns_changed")
    if old_state == "resolves" and new.state in ("nxdomain", "nodata"):
        events.append("went_dark")
    if new.parked and (old is None or not old.parked):
        events.append("parked")
    if old is not None and old.parked and new.parked is False:
        events.append("unparked")
    return events


def brand_nameservers(enrichment: Enrichment, official: Iterable[str]) -> tuple[str, ...] | None:
    """NS hosts of the name's registrable domain under one of `official` (the brand's domains).

    None when the NS lookup did not answer: unknown is not "not the brand's".
    """
    if enrichment.answer("NS").state != "resolves":
        return None
    roots = tuple(d.lower().rstrip(".") for d in official)
    hosts = (ns.lower().rstrip(".") for ns in enrichment.records("NS"))
    return tuple(h for h in hosts if any(h == r or h.endswith("." + r) for r in roots))


def ownership_changes(
    old: Enrichment | None, new: Enrichment, official: Iterable[str]
) -> tuple[list[str], int]:
    """(event kinds, score change) when a name moves onto or off the brand's nameservers.

    Onto them (first answered NS lookup, or from known other nameservers):
    brand_nameservers, -BRAND_NS_PENALTY. Off them: left_brand_nameservers,
    +BRAND_NS_PENALTY, the sign of a domain changing hands. An unknown NS lookup now
    is no change. `old` is `last_known` of the earlier looks, so an NS lookup unknown
    there was never answered: no penalty was taken, and none is taken twice.
    """
    official = tuple(official)
    now = brand_nameservers(new, official)
    if now is None:
        return [], 0
    before = (brand_nameservers(old, official) if old is not None else None) or ()
    if now and not before:
        return ["brand_nameservers"], -BRAND_NS_PENALTY
    if before and not now:
        return ["left_brand_nameservers"], BRAND_NS_PENALTY
    return [], 0


def severity_boost(enrichment: Enrichment | None) -> int:
    """Points DNS adds to a detection's score: BOOST_RESOLVES if it resolves, BOOST_MX with mail.

    An alert's score carries the boost of its last known DNS state: moving from one
    state to another changes the score by the difference, never by a boost again.
    """
    if enrichment is None:
        return 0
    boost = 0
    if enrichment.state == "resolves":
        boost += BOOST_RESOLVES
    if enrichment.has_mx:
        boost += BOOST_MX
    return boost
