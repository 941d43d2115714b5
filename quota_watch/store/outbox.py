"""The outbox: messages queued for the notifiers, their delivery and their pruning."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, get_args

from sqlalchemy import func, select, update

from quota_watch.model import MessageKind, OutboxMessage, Severity
from quota_watch.store.common import chunks, require_aware, truncate
from quota_watch.store.engine import StoreBase, fixed_cutoff
from quota_watch.store.models import ClaimLost
from quota_watch.store.tables import OUTBOX

__all__ = ["OutboxMixin", "check_message", "message_params"]


_SEVERITIES = frozenset(get_args(Severity))
_MESSAGE_KINDS = frozenset(get_args(MessageKind))
_MESSAGE_FIELDS = tuple(f.name for f in dataclasses.fields(OutboxMessage))


class OutboxMixin(StoreBase):
    """The Store's methods on the outbox (messages are queued by ``save_alerts``)."""

    #: Several daemons share this store (quota_watch.cluster): due_messages claims what it
    #: returns for this long (PostgreSQL, FOR UPDATE SKIP LOCKED), so one member sends each.
    outbox_claim: timedelta | None = None
    #: ... and a message being sent stays claimed at least this long (the send's time limit
    #: and a margin), so no other member sends it meanwhile.
    outbox_send_hold: timedelta = timedelta(seconds=70)
    _claims: dict[int, datetime] | None = None  # id -> claimed until, of the last claim

    async def due_messages(self, now: datetime, *, limit: int = 100) -> list[OutboxMessage]:
        """Unsent messages whose next attempt is due (next_attempt_at <= now), oldest first.

        "Oldest" is by created_at, then id: the order in which they were queued.
        """
        require_aware("now", now)
        if limit < 1:
            raise ValueError(f"limit must be >= 1, got {limit}")
        if self.outbox_claim is not None and self.dialect == "postgresql":
            return await self._claim_due(now, limit, now + self.outbox_claim)
        stmt = (
            _select_messages()
            .where(OUTBOX.c.sent_at.is_(None), OUTBOX.c.next_attempt_at <= now)
            .order_by(OUTBOX.c.created_at, OUTBOX.c.id)
            .limit(limit)
        )
        with self._errors("reading due messages"):
            async with self._engine.connect() as conn:
                rows = (await conn.execute(stmt)).all()
        return [OutboxMessage(*row) for row in rows]

    async def _claim_due(self, now: datetime, limit: int, until: datetime) -> list[OutboxMessage]:
        """Due messages no other member is claiming, moved to `until` in the same statement:
        another member's scan skips the locked rows, then finds them not due."""
        due = (
            select(OUTBOX.c.id)
            .where(OUTBOX.c.sent_at.is_(None), OUTBOX.c.next_attempt_at <= now)
            .order_by(OUTBOX.c.created_at, OUTBOX.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        stmt = (
            update(OUTBOX)
            .where(OUTBOX.c.id.in_(due.scalar_subquery()))
            .values(next_attempt_at=until)
            .returning(*(OUTBOX.c[name] for name in _MESSAGE_FIELDS))
        )
        with self._errors("claiming due messages"):
            async with self._write() as conn:
                rows = (await conn.execute(stmt)).all()
        messages = [OutboxMessage(*row) for row in rows]
        self._claims = {m.id: until for m in messages if m.id is not None}
        return sorted(messages, key=lambda m: (m.created_at, m.id or 0))

    async def pending_messages(self, notifier: str) -> list[OutboxMessage]:
        """Every unsent message of `notifier`, due or not, oldest first (to build a digest)."""
        stmt = (
            _select_messages()
            .where(OUTBOX.c.notifier == notifier, OUTBOX.c.sent_at.is_(None))
            .order_by(OUTBOX.c.created_at, OUTBOX.c.id)
        )
        with self._errors("reading pending messages"):
            async with self._engine.connect() as conn:
                rows = (await conn.execute(stmt)).all()
        return [OutboxMessage(*row) for row in rows]

    async def mark_sent(self, ids: Sequence[int], now: datetime) -> None:
        """Record that the messages `ids` were delivered at `now`.

        Already-sent ones keep their first sent_at; unknown ids are ignored; attempts counts
        failed deliveries only.
        """
        require_aware("now", now)
        unique = list(dict.fromkeys(ids))
        if not unique:
            return
        with self._errors("marking messages sent"):
            async with self._write() as conn:
                for chunk in chunks(unique):
                    await conn.execute(
                        update(OUTBOX)
                        .where(OUTBOX.c.id.in_(chunk), OUTBOX.c.sent_at.is_(None))
                        .values(sent_at=now, last_attempt_at=now)
                    )

    async def mark_in_flight(
        self, ids: Sequence[int], now: datetime, next_attempt_at: datetime
    ) -> None:
        """Record, before sending, that the unsent messages `ids` are being delivered at `now`:
        last_attempt_at = now and the next attempt moved to `next_attempt_at`, so a crash
        during the send does not resend them at once on restart (attempts is not changed)."""
        require_aware("now", now)
        require_aware("next_attempt_at", next_attempt_at)
        unique = list(dict.fromkeys(ids))
        if not unique:
            return
        if self.outbox_claim is not None and self.dialect == "postgresql":
            await self._mark_claimed_in_flight(unique, now, next_attempt_at)
            return
        with self._errors("marking messages in flight"):
            async with self._write() as conn:
                for chunk in chunks(unique):
                    await conn.execute(
                        update(OUTBOX)
                        .where(OUTBOX.c.id.in_(chunk), OUTBOX.c.sent_at.is_(None))
                        .values(last_attempt_at=now, next_attempt_at=next_attempt_at)
                    )

    async def mark_failed(
        self, id: int, now: datetime, error: str, next_attempt_at: datetime
    ) -> None:
        """Record a failed delivery of unsent message `id` and when to try it again.

        attempts += 1, last_error = `error` (truncated; stored as given, so scrub secrets
        first). A sent or unknown message is left alone.
        """
        require_aware("now", now)
        require_aware("next_attempt_at", next_attempt_at)
        with self._errors("marking a message failed"):
            async with self._write() as conn:
                await conn.execute(
                    update(OUTBOX)
                    .where(OUTBOX.c.id == id, OUTBOX.c.sent_at.is_(None))
                    .values(
                        attempts=OUTBOX.c.attempts + 1,
                        last_error=truncate(error),
                        last_attempt_at=now,
                        next_attempt_at=next_attempt_at,
                    )
                )

    async def _mark_claimed_in_flight(
        self, ids: Sequence[int], now: datetime, next_attempt_at: datetime
    ) -> None:
        """mark_in_flight for a cluster member: only while each message is still its own (its
        claim unchanged, or due and unclaimed), else ClaimLost and nothing is marked."""
        claims = self._claims or {}
        hold = max(next_attempt_at, now + self.outbox_send_hold)
        with self._errors("marking messages in flight"):
            async with self._write() as conn:
                for id in ids:
                    claimed = claims.get(id)
                    mine = (
                        OUTBOX.c.next_attempt_at == claimed
                        if claimed is not None
                        else OUTBOX.c.next_attempt_at <= now
                    )
                    result = await conn.execute(
                        update(OUTBOX)
                        .where(OUTBOX.c.id == id, OUTBOX.c.sent_at.is_(None), mine)
                        .values(last_attempt_at=now, next_attempt_at=hold)
                    )
                    if result.rowcount != 1:
                        raise ClaimLost(
                            f"outbox message {id} is no longer claimed by this member: not sent"
                        )

    async def outbox_depth(self) -> dict[str, int]:
        """Unsent messages per notifier (notifiers with none are absent)."""
        stmt = (
            select(OUTBOX.c.notifier, func.count())
            .where(OUTBOX.c.sent_at.is_(None))
            .group_by(OUTBOX.c.notifier)
            .order_by(OUTBOX.c.notifier)
        )
        with self._errors("reading the outbox depth"):
            async with self._engine.connect() as conn:
                rows = (await conn.execute(stmt)).all()
        return {notifier: int(count) for notifier, count in rows}

    async def prune_outbox(self, now: datetime, keep: timedelta) -> int:
        """Delete messages sent more than `keep` before `now`; returns how many."""
        require_aware("now", now)
        if keep <= timedelta(0):
            raise ValueError(f"keep must be positive, got {keep}")
        with self._errors("pruning the outbox"):
            return await self._prune_outbox(now - keep)

    async def _prune_outbox(self, cutoff: datetime) -> int:
        return await self._delete_older(
            OUTBOX, (OUTBOX.c.id,), OUTBOX.c.sent_at, fixed_cutoff(cutoff)
        )


def check_message(message: OutboxMessage) -> None:
    """ValueError unless `message` is a new message the store can queue as it is."""
    what = f"message {message.title!r} to {message.notifier!r}"
    if message.id is not None:
        raise ValueError(f"{what} already has id {message.id}")
    if message.kind not in _MESSAGE_KINDS:
        raise ValueError(
            f"{what}: kind must be one of {sorted(_MESSAGE_KINDS)}, got {message.kind!r}"
        )
    if message.severity not in _SEVERITIES:
        raise ValueError(
            f"{what}: severity must be one of {sorted(_SEVERITIES)}, got {message.severity!r}"
        )
    if message.attempts < 0:
        raise ValueError(f"{what}: attempts must be >= 0, got {message.attempts}")
    for name in ("created_at", "next_attempt_at", "sent_at"):
        moment = getattr(message, name)
        if moment is not None:
            require_aware(f"{what}: {name}", moment)


def message_params(message: OutboxMessage) -> dict[str, Any]:
    """The outbox row of a new message."""
    row = {name: getattr(message, name) for name in _MESSAGE_FIELDS if name != "id"}
    row["last_error"] = truncate(message.last_error)
    row["last_attempt_at"] = None
    return row


def _select_messages() -> Any:
    return select(*(OUTBOX.c[name] for name in _MESSAGE_FIELDS))
