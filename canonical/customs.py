"""China customs cross-border e-commerce (CEB, 海关总署公告2018年第113号, 202205 revision) payloads.

Python names are snake_case; each field's alias is the XSD element name (`acturalPaid`, sic), and
fields are declared in the XSD's sequence order, so `canonical.ceb` reads and writes XML from these
models alone. Amounts are Decimal (xs:decimal, totalDigits 19, fractionDigits 5); `currency` is the
customs currency code (`142` = CNY), not ISO 4217. Buyer, payer and consignee identity is Sensitive.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Annotated, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic.alias_generators import to_camel

from canonical.registry import message_type
from canonical.sensitive import Sensitive


def _clock(fmt: str, width: int) -> Callable[[str], str]:
    def check(value: str) -> str:
        datetime.strptime(value[:width], fmt)  # a real calendar time, not just digits
        return value

    return check


PERSONAL = Sensitive()
Str3 = Annotated[str, StringConstraints(min_length=1, max_length=3)]
Str10 = Annotated[str, StringConstraints(min_length=1, max_length=10)]
Str18 = Annotated[str, StringConstraints(min_length=1, max_length=18)]
Str20 = Annotated[str, StringConstraints(min_length=1, max_length=20)]
Str30 = Annotated[str, StringConstraints(min_length=1, max_length=30)]
Str32 = Annotated[str, StringConstraints(min_length=1, max_length=32)]
Str37 = Annotated[str, StringConstraints(min_length=1, max_length=37)]
Str50 = Annotated[str, StringConstraints(min_length=1, max_length=50)]
Str60 = Annotated[str, StringConstraints(min_length=1, max_length=60)]
Str100 = Annotated[str, StringConstraints(min_length=1, max_length=100)]
Str200 = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Str250 = Annotated[str, StringConstraints(min_length=1, max_length=250)]
Str510 = Annotated[str, StringConstraints(min_length=1, max_length=510)]
Str1000 = Annotated[str, StringConstraints(min_length=1, max_length=1000)]
Flag = Annotated[str, StringConstraints(min_length=1, max_length=1)]
Digits3 = Annotated[str, StringConstraints(pattern=r"^\d{3}$")]  # JGS-20 country / unit / currency codes
CustomsCode = Annotated[str, StringConstraints(pattern=r"^\d{4}$")]  # JGS/T 18 关区代码
GoodsCode = Annotated[str, StringConstraints(pattern=r"^\d{10}$")]  # HS code + 2 supplementary digits
# 36 characters; the spec asks upper case, but published GACC samples carry lower case too.
Guid = Annotated[str, StringConstraints(pattern=r"^[0-9A-Fa-f]{8}(-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}$")]
Stamp = Annotated[str, StringConstraints(pattern=r"^\d{14}$"), AfterValidator(_clock("%Y%m%d%H%M%S", 14))]
ReturnStamp = Annotated[str, StringConstraints(pattern=r"^\d{17}$"), AfterValidator(_clock("%Y%m%d%H%M%S", 14))]
Day = Annotated[str, StringConstraints(pattern=r"^\d{8}$"), AfterValidator(_clock("%Y%m%d", 8))]
Amount = Annotated[Decimal, Field(ge=0, max_digits=19, decimal_places=5)]
Gnum = Annotated[int, Field(ge=1, le=99999)]
PackNo = Annotated[int, Field(ge=0, le=999_999_999)]
Note = Str1000 | None
CNY: Digits3 = "142"


class CebModel(BaseModel):
    """One CEB element: fields in XSD order, aliases = element names."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=to_camel, validate_by_name=True, validate_by_alias=True
    )


class BaseTransfer(CebModel):
    """Who transmits the message over the China E-port data exchange (DXP); carried by every declaration."""

    cop_code: Str18
    cop_name: Str100
    dxp_mode: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = "DXP"
    dxp_id: Str30
    note: Note = None


class BaseSubscribe(CebModel):
    status: Str100
    dxp_mode: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = "DXP"
    dxp_address: Str100
    note: Note = None


class DeclarationHead(CebModel):
    """The four fields every declared entity starts with."""

    guid: Guid
    app_type: Literal["1", "2", "3"] = "1"  # 1 new, 2 change, 3 delete
    app_time: Stamp
    app_status: Str3 = "2"  # 1 saved, 2 declared


class CebMessage(CebModel):
    """Root `ceb:CEB<nnn>Message`: `guid` and `version` are attributes; `root` and `side` pick the XSD."""

    root: ClassVar[str]
    side: ClassVar[Literal["import", "export"]]
    attributes: ClassVar[tuple[str, ...]] = ("guid", "version")

    guid: Guid
    version: Literal["1.0"] = "1.0"


# --- import (进口): order 311, payment 411, waybill 511, inventory 621 ---------------------------------


class ImportOrderHead(DeclarationHead):
    order_type: Literal["I"] = "I"
    order_no: Str60
    ebp_code: Str18
    ebp_name: Str100
    ebc_code: Str18
    ebc_name: Str100
    goods_value: Amount  # includes the part paid non-cash (discount)
    freight: Amount
    discount: Amount  # non-cash payment: points, coupons
    tax_total: Amount  # tax withheld in advance
    actural_paid: Amount  # (sic, the XSD's spelling) = goods_value + freight + tax_total - discount
    currency: Digits3 = CNY
    buyer_reg_no: Annotated[Str60, PERSONAL]
    buyer_name: Annotated[Str60, PERSONAL]
    buyer_telephone: Annotated[Str30, PERSONAL]
    buyer_id_type: Annotated[Literal["1", "2"], PERSONAL] = "1"
    buyer_id_number: Annotated[Str60, PERSONAL]
    pay_code: Str18 | None = None
    pay_name: Str100 | None = None
    pay_transaction_id: Str60 | None = None
    batch_numbers: Str100 | None = None
    consignee: Annotated[Str100, PERSONAL]
    consignee_telephone: Annotated[Str50, PERSONAL]
    consignee_address: Annotated[Str200, PERSONAL]
    consignee_district: Annotated[str, StringConstraints(pattern=r"^\d{6}$")] | None = None
    note: Note = None


class ImportOrderItem(CebModel):
    gnum: Gnum
    item_no: Str30 | None = None
    item_name: Str250
    gmodel: Str510
    item_describe: Str1000 | None = None
    bar_code: Str50 | None = None
    unit: Digits3
    qty: Amount
    price: Amount
    total_price: Amount  # = price * qty
    currency: Digits3 = CNY
    country: Digits3
    note: Note = None


class ImportOrder(CebModel):
    """One `Order` entity: the head and its goods lines."""

    head: ImportOrderHead = Field(alias="OrderHead")
    items: list[ImportOrderItem] = Field(alias="OrderList", min_length=1, max_length=99)


@message_type("customs.order")
class ImportOrderMessage(CebMessage):
    """CEB311 电子订单 (import order). One message carries up to 100 orders; the codec keeps them together."""

    root = "CEB311Message"
    side = "import"
    orders: list[ImportOrder] = Field(alias="Order", min_length=1, max_length=100)
    transfer: BaseTransfer = Field(alias="BaseTransfer")
    subscriptions: list[BaseSubscribe] = Field(default_factory=list, alias="BaseSubscribe", max_length=5)


class PaymentHead(DeclarationHead):
    pay_code: Str18
    pay_name: Str100
    pay_transaction_id: Str60
    order_no: Str60
    ebp_code: Str18
    ebp_name: Str100
    payer_id_type: Annotated[Literal["1", "2"], PERSONAL] = "1"
    payer_id_number: Annotated[Str60, PERSONAL]
    payer_name: Annotated[Str60, PERSONAL]
    telephone: Annotated[Str60 | None, PERSONAL] = None
    amount_paid: Amount
    currency: Digits3 = CNY
    pay_time: Stamp
    note: Note = None


class Payment(CebModel):
    head: PaymentHead = Field(alias="PaymentHead")


@message_type("customs.payment")
class PaymentMessage(CebMessage):
    """CEB411 支付凭证 (payment voucher) sent by the payment company."""

    root = "CEB411Message"
    side = "import"
    payments: list[Payment] = Field(alias="Payment", min_length=1, max_length=100)
    transfer: BaseTransfer = Field(alias="BaseTransfer")
    subscriptions: list[BaseSubscribe] = Field(default_factory=list, alias="BaseSubscribe", max_length=5)


class LogisticsHead(DeclarationHead):
    logistics_code: Str18
    logistics_name: Str100
    logistics_no: Str60
    bill_no: Str37 | None = None
    order_no: Str60
    freight: Amount | None = None
    insured_fee: Amount | None = None
    currency: Digits3 = CNY
    weight: Amount  # gross, kg
    pack_no: PackNo = 1
    goods_info: Str200 | None = None
    consignee: Annotated[Str100, PERSONAL]
    consignee_address: Annotated[Str200, PERSONAL]
    consignee_telephone: Annotated[Str50, PERSONAL]
    note: Note = None


class Waybill(CebModel):
    head: LogisticsHead = Field(alias="LogisticsHead")


@message_type("customs.waybill")
class WaybillMessage(CebMessage):
    """CEB511 电子运单 (import waybill) sent by the logistics company."""

    root = "CEB511Message"
    side = "import"
    waybills: list[Waybill] = Field(alias="Logistics", min_length=1, max_length=100)
    transfer: BaseTransfer = Field(alias="BaseTransfer")
    subscriptions: list[BaseSubscribe] = Field(default_factory=list, alias="BaseSubscribe", max_length=5)


class InventoryHead(DeclarationHead):
    order_no: Str60
    ebp_code: Str18
    ebp_name: Str100
    ebc_code: Str18
    ebc_name: Str100
    logistics_no: Str60
    logistics_code: Str18
    logistics_name: Str100
    cop_no: Str20 | None = None
    pre_no: Str18 | None = None
    assure_code: Str30
    ems_no: Str30 | None = None
    invt_no: Str18 | None = None
    ie_flag: Literal["I"] = "I"
    decl_time: Day
    customs_code: CustomsCode
    port_code: CustomsCode
    ie_date: Day | None = None
    buyer_id_type: Annotated[Literal["1", "2"], PERSONAL] = "1"
    buyer_id_number: Annotated[Str60, PERSONAL]
    buyer_name: Annotated[Str60, PERSONAL]
    buyer_telephone: Annotated[Str30, PERSONAL]
    consignee_address: Annotated[Str200, PERSONAL]
    agent_code: Str18
    agent_name: Str100
    area_code: Str18 | None = None
    area_name: Str100 | None = None
    trade_mode: Annotated[str, StringConstraints(pattern=r"^\d{4}$")]  # 9610 direct purchase, 1210 bonded
    traf_mode: Flag
    traf_no: Str100 | None = None
    voyage_no: Str32 | None = None
    bill_no: Str37 | None = None
    loct_no: Str10 | None = None
    license_no: Annotated[str, StringConstraints(min_length=1, max_length=19)] | None = None
    country: Digits3
    freight: Amount
    insured_fee: Amount
    currency: Digits3 = CNY
    wrap_type: Flag | None = None
    pack_no: PackNo = 1
    gross_weight: Amount
    net_weight: Amount
    note: Note = None


class InventoryItem(CebModel):
    gnum: Gnum
    item_record_no: Str30 | None = None
    item_no: Str20 | None = None
    item_name: Str250 | None = None
    gcode: GoodsCode
    gname: Str250
    gmodel: Str510
    bar_code: Str50 | None = None
    country: Digits3
    trade_country: Str3 | None = None
    currency: Digits3 = CNY
    qty: Amount
    unit: Digits3
    qty1: Amount  # legal quantity
    unit1: Digits3
    qty2: Amount | None = None
    unit2: Digits3 | None = None
    price: Amount
    total_price: Amount
    note: Note = None


class Inventory(CebModel):
    head: InventoryHead = Field(alias="InventoryHead")
    items: list[InventoryItem] = Field(alias="InventoryList", min_length=1, max_length=99)


@message_type("customs.inventory")
class InventoryDeclaration(CebMessage):
    """CEB621 进口清单 (import inventory declaration); the XSD requires a `ds:Signature`, added when sent."""

    root = "CEB621Message"
    side = "import"
    inventories: list[Inventory] = Field(alias="Inventory", min_length=1, max_length=100)
    transfer: BaseTransfer = Field(alias="BaseTransfer")
    subscriptions: list[BaseSubscribe] = Field(default_factory=list, alias="BaseSubscribe", max_length=5)


# --- receipts (回执) from the China E-port / customs ---------------------------------------------------

ReceiptMessage = Literal["CEB312", "CEB412", "CEB512", "CEB622", "CEB304", "CEB404", "CEB506", "CEB604"]


class ReturnEntry(CebModel):
    """One `*Return` entity: the union of the fields the receipts carry (each message uses a subset)."""

    guid: Guid
    customs_code: CustomsCode | None = None
    ebp_code: Str18 | None = None
    ebc_code: Str18 | None = None
    agent_code: Str18 | None = None
    order_no: Str60 | None = None
    pay_code: Str18 | None = None
    pay_transaction_id: Str60 | None = None
    pay_no: Str60 | None = None
    logistics_code: Str18 | None = None
    logistics_no: Str60 | None = None
    cop_no: Str30 | None = None
    pre_no: Str18 | None = None
    invt_no: Str20 | None = None
    statistics_flag: Flag | None = None
    return_status: Str10  # 2 declaring, 3 sent to customs, 100 refused, 120 accepted, 399 cleared; <0 error
    return_time: ReturnStamp  # yyyyMMddHHmmssSSS
    return_info: Str1000

    @property
    def business_key(self) -> str:
        """The key of the declaration this entry answers (invtNo, orderNo, payTransactionId, logisticsNo...)."""
        keys = (self.invt_no, self.order_no, self.pay_transaction_id, self.logistics_no, self.pre_no, self.cop_no)
        return next((k for k in keys if k), self.guid)


@message_type("customs.receipt")
class CustomsReceipt(CebModel):
    """A receipt (CEB312/412/512/622 import, 304/404/506/604 export); `answers` is the declaration's number."""

    message: ReceiptMessage
    answers: str = ""
    guid: Guid
    version: Literal["1.0"] = "1.0"
    returns: list[ReturnEntry] = Field(min_length=1, max_length=100)

    @model_validator(mode="after")
    def _answers(self) -> CustomsReceipt:
        expected = f"CEB{int(self.message[3:]) - 1}"
        if self.answers and self.answers != expected:
            raise ValueError(f"{self.message} answers {expected}, not {self.answers}")
        object.__setattr__(self, "answers", expected)
        return self


# --- export (出口): order 303, receipts 403, waybill 505, inventory 603 --------------------------------


class ExportOrderHead(DeclarationHead):
    order_type: Literal["E", "B", "W"] = "E"  # E B2C export, B B2B export, W foreign-trade service
    order_no: Str60
    ebp_code: Str18
    ebp_name: Str100
    ebc_code: Str18
    ebc_name: Str100
    goods_value: Amount  # FOB, without freight
    freight: Amount
    currency: Digits3
    note: Note = None


class ExportOrderItem(CebModel):
    gnum: Gnum
    item_no: Str30
    item_name: Str250
    item_describe: Str1000 | None = None
    bar_code: Str50 | None = None
    unit: Digits3
    currency: Digits3
    qty: Amount
    price: Amount
    total_price: Amount
    note: Note = None


class ExportOrder(CebModel):
    head: ExportOrderHead = Field(alias="OrderHead")
    items: list[ExportOrderItem] = Field(alias="OrderList", min_length=1, max_length=100)


@message_type("customs.export_order")
class ExportOrderMessage(CebMessage):
    """CEB303 出口电子订单."""

    root = "CEB303Message"
    side = "export"
    orders: list[ExportOrder] = Field(alias="Order", min_length=1, max_length=100)
    transfer: BaseTransfer = Field(alias="BaseTransfer")
    subscriptions: list[BaseSubscribe] = Field(default_factory=list, alias="BaseSubscribe", max_length=5)


class ExportReceipt(DeclarationHead):
    """One `Receipts` entity (收款单): the e-commerce company confirms the money arrived."""

    ebp_code: Str18
    ebp_name: Str100
    ebc_code: Str18
    ebc_name: Str100
    order_no: Str60
    pay_code: Str18 | None = None
    pay_name: Str100
    pay_no: Str60 | None = None
    charge: Amount
    currency: Digits3
    accounting_date: Stamp
    note: Note = None


@message_type("customs.export_receipts")
class ExportReceiptsMessage(CebMessage):
    """CEB403 收款单."""

    root = "CEB403Message"
    side = "export"
    receipts: list[ExportReceipt] = Field(alias="Receipts", min_length=1, max_length=100)
    transfer: BaseTransfer = Field(alias="BaseTransfer")
    subscriptions: list[BaseSubscribe] = Field(default_factory=list, alias="BaseSubscribe", max_length=5)


class ExportWaybill(DeclarationHead):
    """One export `Logistics` entity; unlike the import waybill it carries no orderNo."""

    logistics_code: Str18
    logistics_name: Str100
    logistics_no: Str32
    freight: Amount
    insured_fee: Amount
    currency: Digits3
    gross_weight: Amount
    pack_no: PackNo
    goods_info: Str200
    ebc_code: Str18 | None = None
    ebc_name: Str100 | None = None
    ebc_telephone: Annotated[Str50 | None, Sensitive("company")] = None
    note: Note = None


@message_type("customs.export_waybill")
class ExportWaybillMessage(CebMessage):
    """CEB505 出口电子运单."""

    root = "CEB505Message"
    side = "export"
    waybills: list[ExportWaybill] = Field(alias="Logistics", min_length=1, max_length=100)
    transfer: BaseTransfer = Field(alias="BaseTransfer")
    subscriptions: list[BaseSubscribe] = Field(default_factory=list, alias="BaseSubscribe", max_length=5)


class ExportInventoryHead(DeclarationHead):
    customs_code: CustomsCode
    ebp_code: Str18
    ebp_name: Str100
    order_no: Str60
    logistics_code: Str18
    logistics_name: Str100
    logistics_no: Str32
    cop_no: Str30
    pre_no: Str18 | None = None
    invt_no: Str20 | None = None
    ie_flag: Literal["E"] = "E"
    port_code: CustomsCode
    ie_date: Day
    statistics_flag: Literal["A", "B"]  # A simplified, B consolidated declaration
    agent_code: Str18
    agent_name: Str100
    ebc_code: Str18
    ebc_name: Str100
    owner_code: Str18
    owner_name: Str100
    iac_code: Str18 | None = None
    iac_name: Str100 | None = None
    ems_no: Str30 | None = None
    trade_mode: Annotated[str, StringConstraints(pattern=r"^\d{4}$")]  # 9610, 1210, 1239
    traf_mode: Flag
    traf_name: Str100 | None = None
    voyage_no: Str32 | None = None
    bill_no: Str37 | None = None
    total_package_no: Str37 | None = None
    loct_no: Str10 | None = None
    license_no: Annotated[str, StringConstraints(min_length=1, max_length=19)] | None = None
    country: Digits3
    pod: Annotated[str, StringConstraints(min_length=3, max_length=4)] = Field(alias="POD")
    freight: Amount
    f_currency: Digits3
    f_flag: Flag
    insured_fee: Amount
    i_currency: Digits3
    i_flag: Flag
    wrap_type: Flag
    pack_no: PackNo
    gross_weight: Amount
    net_weight: Amount
    note: Note = None


class ExportInventoryItem(CebModel):
    gnum: Gnum
    item_no: Str20
    item_record_no: Str30 | None = None
    item_name: Str250 | None = None
    gcode: GoodsCode
    gname: Str250
    gmodel: Str250
    bar_code: Str50
    country: Digits3
    currency: Digits3
    qty: Amount
    qty1: Amount
    qty2: Amount | None = None
    unit: Digits3
    unit1: Digits3
    unit2: Str3 | None = None
    price: Amount
    total_price: Amount
    note: Note = None


class ExportInventory(CebModel):
    head: ExportInventoryHead = Field(alias="InventoryHead")
    items: list[ExportInventoryItem] = Field(alias="InventoryList", min_length=1, max_length=100)


@message_type("customs.export_inventory")
class ExportInventoryDeclaration(CebMessage):
    """CEB603 出口清单."""

    root = "CEB603Message"
    side = "export"
    inventories: list[ExportInventory] = Field(alias="Inventory", min_length=1, max_length=100)
    transfer: BaseTransfer = Field(alias="BaseTransfer")
    subscriptions: list[BaseSubscribe] = Field(default_factory=list, alias="BaseSubscribe", max_length=5)


DECLARATIONS: tuple[type[CebMessage], ...] = (
    ImportOrderMessage,
    PaymentMessage,
    WaybillMessage,
    InventoryDeclaration,
    ExportOrderMessage,
    ExportReceiptsMessage,
    ExportWaybillMessage,
    ExportInventoryDeclaration,
)
