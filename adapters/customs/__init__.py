"""The China single window (customs CEB): declarations rendered as CEB XML with an enveloped XML signature.

Settings (an adapter version in routes.yaml): `url` (e.g. sandbox:customs), `timeout_s`, `signature`:
`xmldsig-ecdsa` (the `jose` suite: ecdsa-sha256 by signxml with the hub's P-256 key), `xmldsig-sm2`
(the `sm` suite: SM2 with SM3, China E-port algorithm URIs) or `none`. The key is the hub's
document-signing key of that suite, asked of `ctx.document_signer` for every declaration.
The channel contract is docs/customs-channel.md.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar, Literal

from lxml import etree
from pydantic import ValidationError as PydanticValidationError

from adapters.base import (
    InDoubtError,
    Outbound,
    PermanentError,
    Receipt,
    RejectedByPartner,
    adapter_kind,
    protected,
)
from adapters.partner import HttpPartner, PartnerSettings
from canonical.ceb.codec import CebCodec, render
from canonical.customs import CebMessage, CustomsReceipt
from canonical.envelope import Envelope, violations_of
from canonical.errors import RejectedInput, Violation
from canonical.xml import parse_xml
from security import xmldsig
from security.keystore import KeyStoreError

CODEC = CebCodec()
SignatureChoice = Literal["xmldsig-ecdsa", "xmldsig-sm2", "none"]


class CustomsSettings(PartnerSettings):
    """A partner behind an HTTP API like the payment networks (url, timeout_s, health_path), plus how
    declarations are signed."""

    signature: SignatureChoice = "xmldsig-ecdsa"


class PartnerRefusal(RejectedByPartner):
    """The single window refused the declaration (422): `loc` is the element, `rule` the rule broken."""

    def __init__(self, reason: str, *, loc: str, rule: str, status: int | None = None) -> None:
        super().__init__(reason, status=status)
        self.loc, self.rule = loc, rule


@adapter_kind("customs")
class CustomsAdapter(HttpPartner):
    """The HTTP conversation (timeouts, in-doubt calls, health) is the payment networks'; the content is CEB."""

    category: ClassVar[str] = "customs"
    settings_model: ClassVar[type[PartnerSettings]] = CustomsSettings
    settings: CustomsSettings

    # --- render ----------------------------------------------------------------------------------

    def render(self, envelope: Envelope) -> Outbound:
        payload = envelope.payload
        if not envelope.type.startswith("customs.") or not isinstance(payload, CebMessage):
            raise PermanentError(f"{self.ctx.name} carries CEB declarations, not {envelope.type}")
        try:
            body = self.sign(render(payload))
        except RejectedInput as exc:
            raise PermanentError(f"cannot render {envelope.type} for {self.ctx.name}: {exc}") from None
        headers = {"content-type": "application/xml", "idempotency-key": str(envelope.id)}
        if "traceparent" in envelope.headers:
            headers["traceparent"] = envelope.headers["traceparent"]
        return Outbound(str(envelope.id), self.endpoint("/ceb"), body, headers)

    def sign(self, xml: bytes) -> bytes:
        """The rendered message with its enveloped signature as the `signature` setting asks."""
        choice = self.settings.signature
        if choice == "none":
            return xml
        root = parse_xml(xml)
        xmldsig.strip_signature(root)  # the codec's empty template (CEB621)
        suite, alg = ("jose", "ES256") if choice == "xmldsig-ecdsa" else ("sm", "SM2")
        try:
            if self.ctx.document_signer is None:
                raise xmldsig.XmlSignatureError(f"{choice} needs the hub's document-signing key; none is configured")
            signer = self.ctx.document_signer(suite)
            if signer.alg != alg:
                raise xmldsig.XmlSignatureError(f"{choice} needs an {alg} key; {signer.kid!r} signs {signer.alg}")
            root = xmldsig.sign(root, signer)
        except (xmldsig.XmlSignatureError, KeyStoreError) as exc:
            raise PermanentError(f"{self.ctx.name}: {exc}") from None
        return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))

    # --- send ------------------------------------------------------------------------------------

    async def send(self, outbound: Outbound) -> Receipt:
        body, headers = protected(self.ctx, outbound)
        response = await self.call("POST", outbound.target, body, headers, in_doubt=True)
        status, text = response.status_code, response.text[:300]
        if status == 200:
            try:
                answer: Any = json.loads(response.content)
                guid = str(answer["guid"]) if answer.get("accepted") is True else ""
            except (ValueError, KeyError, TypeError, AttributeError):
                guid = ""
            if not guid:
                raise InDoubtError(f"{self.ctx.name} answered 200 without an acceptance: {text}")
            return Receipt(final=False, reference=guid, detail={"channel": self.ctx.name, "guid": guid})
        if status == 422:
            try:
                problem = json.loads(response.content)
                loc, rule = str(problem.get("loc", "")), str(problem.get("rule", ""))
            except (ValueError, AttributeError):
                loc, rule = "", ""
            raise PartnerRefusal(f"{self.ctx.name} refused: {rule} at {loc}: {text}", loc=loc, rule=rule, status=422)
        self.raise_refusal(response)  # 5xx, 429 ...: TransientError; other 4xx: PermanentError
        raise PermanentError(f"{self.ctx.name} refused with {status}: {text}", status=status)

    # --- receipts --------------------------------------------------------------------------------

    def parse_reply(self, raw: bytes, headers: dict[str, str]) -> Envelope:
        """A CEB receipt as a `customs.receipt` Envelope to the hub, correlated by the orderNo / copNo
        it answers; RejectedInput for anything else."""
        decoded = CODEC.decode(raw)
        receipt = decoded.payload
        if not isinstance(receipt, CustomsReceipt):
            violation = Violation("/", "not_a_receipt", type(receipt).__name__)
            raise RejectedInput(f"{self.ctx.name} answers with CEB receipts", [violation])
        first = receipt.returns[0]
        try:
            return Envelope(
                type="customs.receipt",
                source=self.ctx.name,
                destination="hub",
                correlation_id=first.order_no or first.cop_no or first.business_key,
                idempotency_key=decoded.idempotency_key,
                payload=receipt,
            )
        except PydanticValidationError as exc:
            raise RejectedInput(f"{self.ctx.name} receipt rejected", violations_of(exc)) from None
