"""Rendezvous (highest random weight) hashing: which live member should hold a lease."""

from __future__ import annotations

import hashlib
from collections.abc import Collection

__all__ = ["owner", "weight"]


def weight(member: str, name: str) -> int:
    """The member's stable pseudo-random weight for the lease `name`."""
    digest = hashlib.blake2b(f"{member}\0{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def owner(name: str, members: Collection[str]) -> str:
    """The member with the highest weight for `name`: a member joining or leaving moves only
    the leases it wins or held (about 1/N of them), never reshuffles the rest."""
    if not members:
        raise ValueError("no members to choose from")
    return max(members, key=lambda m: (weight(m, name), m))
