"""The dcbridge adapter: one demand's whole flow on the bridge, bilateral transfers, and what
operators ask the bridge (balances, evidence). See the package docstring."""

from __future__ import annotations

import asyncio
import json
from typing import Any, ClassVar

import httpx

from adapters.base import (
    RETRYABLE_STATUS,
    AdapterError,
    InDoubtError,
    Outbound,
    PermanentError,
    Receipt,
    RejectedByPartner,
    TransientError,
    adapter_kind,
    protected,
)
from adapters.dcbridge.wire import BridgeSettings, Steps, best_quote, bridge_amount, record_of
from adapters.partner import HttpPartner, PartnerSettings
from canonical.dc import BilateralTransfer, PaymentDemand
from canonical.envelope import Envelope
from canonical.errors import RejectedInput, Violation
from canonical.jsonwire import load_json
from security.evidence import link

# Refusals that are the bridge's business answer about this payment (the message ends rejected).
BUSINESS_400 = frozenset({"invalid_amount", "invalid_rate", "unsupported_currency"})
MAX_ANSWER = 4 * 1024 * 1024  # a chain page of 1000 entries is ~1 MB
MAX_CHAIN_PAGES = 100  # evidence walks at most 100,000 entries from a transaction to the head


@adapter_kind("dcbridge")
class DcBridgeAdapter(HttpPartner):
    category: ClassVar[str] = "dc"
    settings_model: ClassVar[type[PartnerSettings]] = BridgeSettings
    settings: BridgeSettings

    # --- render ----------------------------------------------------------------------------------

    def render(self, envelope: Envelope) -> Outbound:
        payload = envelope.payload
        if isinstance(payload, PaymentDemand):
            body: dict[str, Any] = {
                "demand_id": payload.demand_id or str(envelope.id),
                "from": payload.originator,
                "amount": bridge_amount(payload.amount),
                "source_currency": payload.source_currency,
                "target_currency": payload.to_currency,
                "beneficiary": payload.beneficiary,
                "purpose": payload.purpose,
            }
            if payload.trade_reference is not None:
                body["trade_reference"] = payload.trade_reference
            if payload.valid_for_s is not None:
                body["valid_for_s"] = payload.valid_for_s
            path = "/demands"
        elif isinstance(payload, BilateralTransfer):
            body = {
                "transfer_id": payload.transfer_id or str(envelope.id),
                "from": payload.payer,
                "to": payload.payee,
                "amount": bridge_amount(payload.amount),
                "currency": payload.currency,
            }
            if payload.correspondent is not None:
                body["correspondent"] = payload.correspondent
            path = "/transfers"
        else:
            raise PermanentError(f"{self.ctx.name} carries dc.demand and dc.transfer, not {envelope.type}")
        headers = {"content-type": "application/json", "idempotency-key": str(envelope.id)}
        if "traceparent" in envelope.headers:
            headers["traceparent"] = envelope.headers["traceparent"]
        return Outbound(str(envelope.id), self.endpoint(path), json.dumps(body).encode(), headers)

    # --- send ------------------------------------------------------------------------------------

    async def send(self, outbound: Outbound) -> Receipt:
        request = self.read_answer(outbound.body, "request")
        if outbound.target.endswith("/transfers"):
            return await self._transfer(outbound, request)
        return await self._demand(outbound, request)

    async def _transfer(self, outbound: Outbound, request: dict[str, Any]) -> Receipt:
        steps = Steps()
        view = await self.post(outbound.target, outbound.body, outbound.headers)
        steps.add("settled", tx_id=view.get("tx_id"))
        return await self._settled(str(request["transfer_id"]), view, steps)

    async def _demand(self, outbound: Outbound, request: dict[str, Any]) -> Receipt:
        demand_id = str(request["demand_id"])
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.timeout_s
        steps = Steps()
        # Publishing again is how a retry finds the demand: the bridge answers its current state.
        view = await self.post(outbound.target, outbound.body, outbound.headers)
        steps.add("published", bridge_status=view.get("status"))
        while True:
            status = view.get("status")
            if status != "settled" and loop.time() >= deadline + self.settings.timeout_s:
                raise TransientError(f"{self.ctx.name}: demand {demand_id} still {str(status)[:40]} after the budget")
            if status == "settled":
                steps.add("settled", tx_id=view.get("tx_id"))
                return await self._settled(demand_id, view, steps)
            if status == "rejected":
                reason = view.get("reason") or {}
                raise RejectedByPartner(f"{reason.get('error', 'rejected')}: {reason.get('detail', '')}".rstrip(": "))
            if status == "expired":
                raise RejectedByPartner(f"demand_expired: demand {demand_id} expired on the bridge before settlement")
            if status == "accepted":  # an interrupted settlement: the same acceptance finishes it
                view = await self.accept(demand_id, view.get("accepted_quote"), steps)
                continue
            if status not in ("published", "quoted"):
                raise TransientError(f"{self.ctx.name}: demand {demand_id} is in an unknown state {str(status)[:40]!r}")
            if view.get("source_currency") == view.get("target_currency"):
                view = await self.accept(demand_id, None, steps)
                continue
            best = best_quote(view.get("quotes"))
            if best is not None:
                steps.add("quoted", quote_id=best["quote_id"], bank=best.get("bank"), rate=best.get("rate"))
                view = await self.accept(demand_id, str(best["quote_id"]), steps)
                continue
            if loop.time() >= deadline:
                raise TransientError(
                    f"{self.ctx.name}: no quote on demand {demand_id} within {self.settings.timeout_s}s"
                )
            await asyncio.sleep(self.settings.poll_s)
            view = await self.get(f"/demands/{demand_id}")

    async def accept(self, demand_id: str, quote_id: Any, steps: Steps) -> dict[str, Any]:
        """Accept a quote (or a single-currency demand); the demand's view after it, whoever won."""
        body = json.dumps({"quote_id": str(quote_id)} if quote_id else {}).encode()
        url = self.endpoint(f"/demands/{demand_id}/accept")
        try:
            view = await self.post(url, body, {"content-type": "application/json"})
        except RejectedByPartner as exc:
            # A quote that expired meanwhile, or an acceptance that lost to another: look again.
            if not exc.reason.startswith(("quote_expired", "demand_not_open")):
                raise
            steps.add("acceptance_refused", quote_id=quote_id, reason=exc.reason[:200])
            return await self.get(f"/demands/{demand_id}")
        steps.add("accepted", quote_id=quote_id)
        return view

    async def _settled(self, key: str, view: dict[str, Any], steps: Steps) -> Receipt:
        """Read the settled entry back, check it hashes to the proof, and make the final Receipt."""
        proof = view.get("proof")
        if not isinstance(proof, dict) or "position" not in proof:
            raise TransientError(f"{self.ctx.name}: {key} is settled but the bridge gave no proof")
        page = await self.get(f"/chain?from={int(proof['position'])}&limit=1")
        entries = page.get("entries") or [{}]
        entry = entries[0]
        canonical = str(entry.get("canonical", ""))
        if entry.get("tx_id") != proof.get("tx_id") or link(str(proof["prev_hash"]), canonical.encode()) != proof.get(
            "tx_hash"
        ):
            raise TransientError(f"{self.ctx.name}: the settled entry of {key} does not hash to its proof")
        try:
            record = record_of(self.read_answer(canonical.encode(), "transaction"), proof)
        except RejectedInput as exc:
            raise TransientError(f"{self.ctx.name}: unreadable settlement of {key}: {exc}") from None
        steps.add("proof", position=record.proof.position, chain_head=record.proof.chain_head)
        detail = {
            "channel": self.ctx.name,
            "settlement_id": record.settlement.tx_id,
            "settlement": record.settlement.model_dump(mode="json", exclude_none=True),
            "proof": record.proof.model_dump(mode="json"),
            "steps": steps.done,
        }
        return Receipt(final=True, reference=record.settlement.tx_id, detail=detail)

    # --- the bridge's HTTP API -------------------------------------------------------------------

    async def request(self, method: str, url: str, body: bytes | None, headers: dict[str, str]) -> httpx.Response:
        """One call, signed (and encrypted) when it carries a body; a POST without an answer is in doubt."""
        if body is not None:
            body, headers = protected(self.ctx, Outbound("", url, body, headers))
        return await self.call(method, url, body, headers, in_doubt=method != "GET")

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
        response = await self.request("POST", url, body, headers)
        if response.status_code in (200, 201):
            return self.read_answer(response.content, "answer", in_doubt=True)
        raise self.refusal(response)

    async def get(self, path: str) -> dict[str, Any]:
        response = await self.request("GET", self.endpoint(path), None, {})
        if response.status_code == 200:
            return self.read_answer(response.content, "answer")
        raise self.refusal(response)

    def read_answer(self, raw: bytes, title: str, in_doubt: bool = False) -> dict[str, Any]:
        """A JSON object from the bridge, read with the hub's caps (size, depth, duplicate keys)."""
        try:
            value = load_json(raw, f"{self.ctx.name} {title}", max_bytes=MAX_ANSWER)
        except RejectedInput as exc:
            error = InDoubtError if in_doubt else TransientError  # a garbled answer to a POST may hide an effect
            raise error(f"{self.ctx.name} answered unreadable JSON: {exc}") from None
        if not isinstance(value, dict):
            raise TransientError(f"{self.ctx.name} answered a {type(value).__name__}, not an object")
        return value

    def refusal(self, response: httpx.Response) -> AdapterError:
        """The error for a non-2xx answer; its reason starts with the bridge's error code."""
        status = response.status_code
        try:
            body = load_json(response.content, "refusal", max_bytes=64 * 1024)
        except RejectedInput:
            body = {}
        code = str(body.get("error", "")) if isinstance(body, dict) else ""
        detail = str(body.get("detail", "")) if isinstance(body, dict) else ""
        reason = f"{code or status}: {detail or response.text[:200]}"[:500]
        if status in RETRYABLE_STATUS or status >= 500:
            return TransientError(f"{self.ctx.name} answered {status}: {reason}", status=status)
        if status == 422 or (status == 400 and code in BUSINESS_400) or code == "demand_not_open":
            return RejectedByPartner(reason, status=status)
        if code in ("demand_expired", "quote_expired"):
            return RejectedByPartner(reason, status=status)
        return PermanentError(f"{self.ctx.name} refused with {status}: {reason}", status=status)

    # --- what operators ask the bridge (admin API) -----------------------------------------------

    async def balances(self) -> list[dict[str, Any]]:
        """Every account on the bridge: participant, account (wallet / reserve), currency, balance."""
        books = (await self.get("/balances")).get("balances")
        if not isinstance(books, dict):
            raise TransientError(f"{self.ctx.name} answered balances without a balances object")
        rows = []
        for participant, accounts in sorted(books.items()):
            for account, currencies in sorted((accounts or {}).items()):
                for currency, balance in sorted((currencies or {}).items()):
                    rows.append(
                        {"participant": participant, "account": account, "currency": currency, "balance": balance}
                    )
        return rows

    async def chain_evidence(
        self, tx_id: str, position: int
    ) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
        """(the bridge's proof of `tx_id` now, its chain entries from `position` on, its head)."""
        proof = await self.get(f"/transactions/{tx_id}/proof")
        head = await self.get("/chain/head")
        entries: list[dict[str, Any]] = []
        start = position
        for _ in range(MAX_CHAIN_PAGES):
            page = await self.get(f"/chain?from={start}&limit=1000")
            batch = page.get("entries") or []
            entries += batch
            if len(batch) < 1000 or start + len(batch) > int(head["head_position"]):
                break
            start += len(batch)
        return proof, entries, head

    # --- asynchronous answers --------------------------------------------------------------------

    def parse_reply(self, raw: bytes, headers: dict[str, str]) -> Envelope:
        """A settlement the bridge reports, {"transaction": <its chain body>, "proof": {...}}, as a
        dc.record Envelope from this adapter to the hub; RejectedInput naming the field otherwise."""
        answer = load_json(raw, f"{self.ctx.name} record", max_bytes=256 * 1024)
        if not isinstance(answer, dict) or not isinstance(answer.get("transaction"), dict):
            raise RejectedInput(
                f"{self.ctx.name} record", [Violation("$.transaction", "required", "expected a transaction object")]
            )
        proof = answer.get("proof")
        if not isinstance(proof, dict):
            raise RejectedInput(
                f"{self.ctx.name} record", [Violation("$.proof", "required", "expected a proof object")]
            )
        record = record_of(answer["transaction"], proof)
        key = record.demand_id or record.transfer_id or record.settlement.tx_id
        return Envelope(
            type="dc.record",
            source=self.ctx.name,
            destination="hub",
            correlation_id=key,
            idempotency_key=record.settlement.tx_id,
            payload=record,
        )
