"""What partners' answers do to the journal.

An answer arrives asynchronously (POST /v1/callbacks/<adapter>: pacs.002, camt.029, pacs.004,
statements, customs receipts) or from a status enquiry the hub made itself. It is journalled as a
message of its own (so a partner repeating a callback changes nothing twice; one journalled but not
applied before a crash is applied on the repeat) and moves what it is about: ACSC -> completed, RJCT
-> rejected with the network's reason, a cancellation accepted -> the cancellation completed and the
payment rejected as cancelled; a customs receipt moves its declaration and set (desk/customs.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from adapters.base import AdapterError, PartnerStatus
from adapters.payments import partner_status
from canonical.customs import CustomsReceipt
from canonical.envelope import Envelope, idempotency_scope
from canonical.logistics import Shipment
from canonical.payments import (
    AccountNotification,
    AccountReport,
    AccountStatement,
    CancellationResolution,
    PaymentReturn,
    ResolutionStatus,
    StatusReport,
)
from desk import PAYMENT_TYPES
from desk.customs import apply_receipt
from desk.logistics import apply_tracking
from desk.reconcile import reconcile
from store import FINAL, Store
from store.journal import MessageView

log = logging.getLogger("hub.desk")
CANCELLATION = "payment.cancellation_request"


def partner_status_of(report: StatusReport) -> PartnerStatus:
    """A pacs.002 (or its MT199 translation) as the network's word on the original payment."""
    reason = " ".join(filter(None, [report.reason_code, *report.additional_information]))
    return partner_status(report.status.value, reason, report.message_id, {"iso": report.status.value})


async def apply_partner_status(
    store: Store, message_id: str, channel: str, status: PartnerStatus, via: str
) -> list[str]:
    """Move a message as the network's status says; returns the statuses recorded (none if already there)."""
    view = await store.message(message_id)
    if view is None or not status.known:
        return []
    detail = {
        "by": channel,
        "via": via,
        **({"reference": status.reference} if status.reference else {}),
        **status.detail,
    }
    steps: list[tuple[str, dict[str, Any]]] = []
    if view.status not in ("delivered", "completed", "rejected"):
        steps.append(("delivered", detail))
    if status.status == "completed":
        steps.append(("completed", detail))
    elif status.status == "rejected":
        steps.append(("rejected", {**detail, "reason": "partner_rejected", "error": status.reason or "rejected"}))
    recorded = []
    for step, step_detail in steps:
        if await store.record(message_id, step, actor=channel, detail=step_detail):
            recorded.append(step)
    return recorded


async def audit_enquiry(
    store: Store, message_id: str, channel: str, answer: PartnerStatus | AdapterError, why: str
) -> None:
    """Audit one status enquiry about a message: what the network said (`payment.enquiry`), or why it
    could not be asked (`payment.enquiry_failed`)."""
    if isinstance(answer, AdapterError):
        detail = {"channel": channel, "error": answer.reason[:500], "why": why}
        await store.audit("hub", "payment.enquiry_failed", message_id, detail)
        return
    said: dict[str, Any] = {"known": answer.known, "status": answer.status, "reason": answer.reason}
    await store.audit("hub", "payment.enquiry", message_id, {"channel": channel, **said, "why": why})


@dataclass
class AnswerOutcome:
    """What one answer did: its own journal id, and the messages it moved (id -> statuses)."""

    message_id: str
    duplicate: bool = False
    moved: dict[str, list[str]] = field(default_factory=dict)
    report: dict[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"message_id": self.message_id, "duplicate": self.duplicate, "moved": self.moved}
        if self.report is not None:
            out["reconciliation"] = self.report
        return out


async def apply_answer(store: Store, answer: Envelope, channel: str) -> AnswerOutcome:
    """Journal `answer` (from `channel`) once and apply it to what it is about."""
    payments = await _originals(store, answer.correlation_id, PAYMENT_TYPES, channel)
    about = payments[-1] if payments else None
    if about is not None:  # the answer belongs to whoever sent the payment, for GET /v1/payments
        answer = answer.model_copy(update={"destination": about.source})
    view, owner = await store.ensure(answer, idempotency_scope(answer.source, answer.idempotency_key or str(answer.id)))
    outcome = AnswerOutcome(view.id, duplicate=not owner)
    if view.status in FINAL:  # applied before (a repeat); one journalled but not applied is applied now
        return outcome
    payload = answer.payload
    if isinstance(payload, StatusReport) and about is not None:
        status = partner_status_of(payload)
        outcome.moved[about.id] = await apply_partner_status(store, about.id, channel, status, via="status report")
    elif isinstance(payload, CancellationResolution):
        await _resolve_cancellation(store, payload, answer.correlation_id, channel, about, outcome)
    elif isinstance(payload, PaymentReturn) and about is not None:
        detail = {"return": view.id, "reason": payload.reason_code, "amount": str(payload.returned_amount.amount)}
        await store.audit(channel, "payment.returned", about.id, detail)
    elif isinstance(payload, AccountStatement | AccountReport | AccountNotification):
        outcome.report = (await reconcile(store, payload, channel, actor=channel)).as_json()
    elif isinstance(payload, CustomsReceipt):
        outcome.moved = await apply_receipt(store, payload, channel)
    elif isinstance(payload, Shipment):  # a carrier's tracking push
        outcome.moved[payload.shipment_id] = await apply_tracking(store, answer, view, channel)
    done = {"applied_to": sorted(outcome.moved), **({"about": about.id} if about else {})}
    await store.record(view.id, "completed", actor=channel, detail=done)
    return outcome


async def _originals(store: Store, uetr: str, types: tuple[str, ...], channel: str) -> list[MessageView]:
    """The messages of `types` with this UETR that went through `channel`, oldest first."""
    if not uetr:
        return []
    return [v for v in await store.by_correlation([uetr], types) if v.adapter == channel]


async def _resolve_cancellation(
    store: Store,
    resolution: CancellationResolution,
    uetr: str,
    channel: str,
    payment: MessageView | None,
    outcome: AnswerOutcome,
) -> None:
    requests = await _originals(store, uetr, (CANCELLATION,), channel)
    open_requests = [r for r in requests if r.status not in ("completed", "rejected")]
    if resolution.status is ResolutionStatus.PDCR:
        return
    accepted = resolution.status is ResolutionStatus.CNCL
    reason = " ".join(filter(None, [resolution.reason_code, *resolution.additional_information]))
    for request in open_requests[-1:]:
        status = PartnerStatus(True, "completed" if accepted else "rejected", reason or "cancellation refused")
        outcome.moved[request.id] = await apply_partner_status(store, request.id, channel, status, "camt.029")
    if accepted and payment is not None:
        detail = {"reason": "cancelled", "error": "cancelled at the sender's request", "by": channel}
        if await store.record(payment.id, "rejected", actor=channel, detail=detail):
            outcome.moved.setdefault(payment.id, []).append("rejected")
