"""The cash management translations, by MT and by canonical payload: confirmations (MT900 / MT910), reports
(MT941 / MT942), reporting requests (MT920), notices to receive (MT210), charges (MT190 / MT290, MT191 / MT291)
and cheques (MT110, MT111, MT112)."""

from __future__ import annotations

from collections.abc import Callable
from types import UnionType
from typing import Any

from pydantic import BaseModel

from canonical.cash import (
    AccountReportingRequest,
    ChargesPaymentNotification,
    ChargesPaymentRequest,
    ChequePresentmentNotification,
    ChequeStopReport,
    ChequeStopRequest,
    NoticeToReceive,
)
from canonical.payments import AccountNotification, AccountReport
from canonical.swift_mt.charges_map import (
    mt190_to_notification,
    mt191_to_request,
    notification_to_mt190,
    request_to_mt191,
)
from canonical.swift_mt.cheque_map import (
    mt110_to_presentment,
    mt111_to_stop_request,
    mt112_to_stop_report,
    presentment_to_mt110,
    stop_report_to_mt112,
    stop_request_to_mt111,
)
from canonical.swift_mt.common import Mt190, Mt191, Mt900, Mt910
from canonical.swift_mt.layout import MtMessage
from canonical.swift_mt.notice_map import mt210_to_notice, notice_to_mt210
from canonical.swift_mt.notification_map import confirmation_to_notification, notification_to_confirmation
from canonical.swift_mt.reporting_map import report_to_canonical, report_to_mt
from canonical.swift_mt.request_map import mt920_to_request, request_to_mt920
from canonical.swift_mt.statements import Mt920, Mt941, Mt942
from canonical.swift_mt.transfers import Mt110, Mt111, Mt112, Mt210

Translated = tuple[BaseModel, list[str]]
# The translations of the cash management MTs, by MT.
_TO_CANONICAL: tuple[tuple[type[MtMessage] | UnionType, Callable[[Any], Translated]], ...] = (
    (Mt900 | Mt910, confirmation_to_notification),
    (Mt941 | Mt942, report_to_canonical),
    (Mt920, mt920_to_request),
    (Mt210, mt210_to_notice),
    (Mt190, mt190_to_notification),  # and MT290
    (Mt191, mt191_to_request),  # and MT291
    (Mt110, mt110_to_presentment),
    (Mt111, mt111_to_stop_request),
    (Mt112, mt112_to_stop_report),
)


def cash_to_canonical(mt: MtMessage) -> Translated | None:
    """The canonical payload and warnings of a cash management MT; None for any other MT."""
    translate = next((f for kind, f in _TO_CANONICAL if isinstance(mt, kind)), None)
    return None if translate is None else translate(mt)


def cash_to_mt(
    payload: BaseModel, sender: str, receiver: str, mt_type: str | None = None
) -> tuple[MtMessage, list[str]] | None:
    """The MT and warnings of a cash management payload; None for any other payload.

    `mt_type` chooses between the forms of account reports ("941" or "942") and charges ("290" or "291" for
    the category 2 forms); the caller checks the MT it gets."""
    if isinstance(payload, AccountNotification):
        return notification_to_confirmation(payload, sender, receiver)
    if isinstance(payload, AccountReport):
        return report_to_mt(payload, sender, receiver, mt_type)
    if isinstance(payload, AccountReportingRequest):
        return request_to_mt920(payload, sender, receiver)
    if isinstance(payload, NoticeToReceive):
        return notice_to_mt210(payload, sender, receiver)
    if isinstance(payload, ChargesPaymentNotification):
        return notification_to_mt190(payload, sender, receiver, mt_type == "290")
    if isinstance(payload, ChargesPaymentRequest):
        return request_to_mt191(payload, sender, receiver, mt_type == "291")
    if isinstance(payload, ChequePresentmentNotification):
        return presentment_to_mt110(payload, sender, receiver)
    if isinstance(payload, ChequeStopRequest):
        return stop_request_to_mt111(payload, sender, receiver)
    if isinstance(payload, ChequeStopReport):
        return stop_report_to_mt112(payload, sender, receiver)
    return None
