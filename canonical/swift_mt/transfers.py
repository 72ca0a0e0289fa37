"""Payment messages beyond MT103 / MT202: MT101, MT107, MT110 / MT111 / MT112, MT200, MT204, MT205(COV), MT210.

Repeating sequences (transactions, cheques, debits) are `MtSequence` models in a `sequence` slot; a
sequence ends at the first tag that does not fit it, so the same tag (e.g. 20 in MT204, 32B in MT107) can
open the message and each occurrence.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import ClassVar

from canonical.errors import Violation
from canonical.swift_mt.fields import CurrencyAmount, PartyField, ValueDateAmount
from canonical.swift_mt.layout import MtMessage, MtSequence, Slot, party, sequence
from canonical.swift_mt.messages import Mt202Underlying
from canonical.swift_mt.values import Total


class Mt101Transaction(MtSequence):
    """MT101 sequence B: one transfer the ordering customer asks for."""

    SEQUENCE: ClassVar[str] = "B"
    LAYOUT: ClassVar[list[Slot]] = [
        Slot("21", "transaction_reference", mandatory=True),
        Slot("21F", "fx_deal_reference"),
        Slot("23E", "instruction_codes", repeat=True),
        Slot("32B", "amount", "amount", mandatory=True),
        party("50", "instructing_party", "C,L"),
        party("50", "ordering_customer", "F,G,H"),
        party("52", "account_servicing_institution", "A,C"),
        party("56", "intermediary", "A,C,D"),
        party("57", "account_with_institution", "A,C,D"),
        party("59", "beneficiary", ",A,F", mandatory=True),
        Slot("70", "remittance_information", "lines"),
        Slot("77B", "regulatory_reporting", "lines"),
        Slot("33B", "original_amount", "amount"),
        Slot("71A", "details_of_charges", mandatory=True),
        Slot("25A", "charges_account"),
        Slot("36", "exchange_rate"),
    ]

    transaction_reference: str
    fx_deal_reference: str | None = None
    instruction_codes: list[str] = []
    amount: CurrencyAmount
    instructing_party: PartyField | None = None
    ordering_customer: PartyField | None = None
    account_servicing_institution: PartyField | None = None
    intermediary: PartyField | None = None
    account_with_institution: PartyField | None = None
    beneficiary: PartyField
    remittance_information: list[str] = []
    regulatory_reporting: list[str] = []
    original_amount: CurrencyAmount | None = None
    details_of_charges: str
    charges_account: str | None = None
    exchange_rate: str | None = None


class Mt101(MtMessage):
    """Request for transfer: sequence A (general information) and one sequence B per transaction.

    Rule C2: the ordering customer (50F/G/H) is in sequence A or in every sequence B, never in both.
    """

    LAYOUT: ClassVar[list[Slot]] = [
        Slot("20", "sender_reference", mandatory=True),
        Slot("21R", "customer_reference"),
        Slot("28D", "message_index", mandatory=True),
        party("50", "instructing_party", "C,L"),
        party("50", "ordering_customer", "F,G,H"),
        party("52", "account_servicing_institution", "A,C"),
        Slot("51A", "sending_institution"),
        Slot("30", "execution_date", "date", mandatory=True),
        Slot("25", "authorisation"),
        sequence(Mt101Transaction, "transactions", repeat=True, mandatory=True),
    ]

    sender_reference: str
    customer_reference: str | None = None
    message_index: str
    instructing_party: PartyField | None = None
    ordering_customer: PartyField | None = None
    account_servicing_institution: PartyField | None = None
    sending_institution: str | None = None
    execution_date: date
    authorisation: str | None = None
    transactions: list[Mt101Transaction]

    def rule_violations(self) -> list[Violation]:
        in_b = [t.ordering_customer is not None for t in self.transactions]
        if (self.ordering_customer is not None and any(in_b)) or (self.ordering_customer is None and not all(in_b)):
            return [Violation("4:50a", "ordering_customer_placement", "rule C2: in sequence A or in every B")]
        return []


class Mt107Transaction(MtSequence):
    """MT107 sequence B: one direct debit."""

    SEQUENCE: ClassVar[str] = "B"
    LAYOUT: ClassVar[list[Slot]] = [
        Slot("21", "transaction_reference", mandatory=True),
        Slot("23E", "instruction_code"),
        Slot("21C", "mandate_reference"),
        Slot("21D", "direct_debit_reference"),
        Slot("21E", "registration_reference"),
        Slot("32B", "amount", "amount", mandatory=True),
        party("50", "instructing_party", "C,L"),
        party("50", "creditor", "A,K"),
        party("52", "creditors_bank", "A,C,D"),
        party("57", "debtors_bank", "A,C,D"),
        party("59", "debtor", ",A", mandatory=True),
        Slot("70", "remittance_information", "lines"),
        Slot("26T", "transaction_type"),
        Slot("77B", "regulatory_reporting", "lines"),
        Slot("33B", "original_amount", "amount"),
        Slot("71A", "details_of_charges"),
        Slot("71F", "senders_charges", "amount"),
        Slot("71G", "receivers_charges", "amount"),
        Slot("36", "exchange_rate"),
    ]

    transaction_reference: str
    instruction_code: str | None = None
    mandate_reference: str | None = None
    direct_debit_reference: str | None = None
    registration_reference: str | None = None
    amount: CurrencyAmount
    instructing_party: PartyField | None = None
    creditor: PartyField | None = None
    creditors_bank: PartyField | None = None
    debtors_bank: PartyField | None = None
    debtor: PartyField
    remittance_information: list[str] = []
    transaction_type: str | None = None
    regulatory_reporting: list[str] = []
    original_amount: CurrencyAmount | None = None
    details_of_charges: str | None = None
    senders_charges: CurrencyAmount | None = None
    receivers_charges: CurrencyAmount | None = None
    exchange_rate: str | None = None


class Mt107(MtMessage):
    """General direct debit: sequence A, one sequence B per debit, and the settlement (sequence C) fields."""

    LAYOUT: ClassVar[list[Slot]] = [
        Slot("20", "sender_reference", mandatory=True),
        Slot("23E", "instruction_code"),
        Slot("21E", "registration_reference"),
        Slot("30", "requested_execution_date", "date", mandatory=True),
        Slot("51A", "sending_institution"),
        party("50", "instructing_party", "C,L"),
        party("50", "creditor", "A,K"),
        party("52", "creditors_bank", "A,C,D"),
        Slot("26T", "transaction_type"),
        Slot("77B", "regulatory_reporting", "lines"),
        Slot("71A", "details_of_charges"),
        Slot("72", "sender_to_receiver_information", "lines"),
        sequence(Mt107Transaction, "transactions", repeat=True, mandatory=True),
        # Sequence C (settlement details) occurs once, so its fields sit in the message itself.
        Slot("32B", "settlement_amount", "amount", mandatory=True),
        Slot("19", "sum_of_amounts", "total"),
        Slot("71F", "sum_of_senders_charges", "amount"),
        Slot("71G", "sum_of_receivers_charges", "amount"),
        party("53", "senders_correspondent", "A,B"),
    ]

    sender_reference: str
    instruction_code: str | None = None
    registration_reference: str | None = None
    requested_execution_date: date
    sending_institution: str | None = None
    instructing_party: PartyField | None = None
    creditor: PartyField | None = None
    creditors_bank: PartyField | None = None
    transaction_type: str | None = None
    regulatory_reporting: list[str] = []
    details_of_charges: str | None = None
    sender_to_receiver_information: list[str] = []
    transactions: list[Mt107Transaction]
    settlement_amount: CurrencyAmount
    sum_of_amounts: Total | None = None
    sum_of_senders_charges: CurrencyAmount | None = None
    sum_of_receivers_charges: CurrencyAmount | None = None
    senders_correspondent: PartyField | None = None


class Cheque(MtSequence):
    """One cheque of an MT110: number (21), date of issue (30), amount (32A dated or 32B), payer, drawer, payee."""

    SEQUENCE: ClassVar[str] = "cheque"
    LAYOUT: ClassVar[list[Slot]] = [
        Slot("21", "cheque_number", mandatory=True),
        Slot("30", "date_of_issue", "date", mandatory=True),
        Slot("32", "amount", "amount_ab", options=("A", "B"), mandatory=True),
        party("50", "payer", "A,F,K"),
        party("52", "drawer_bank", "A,B,D"),
        party("59", "payee", ",F", mandatory=True),
    ]

    cheque_number: str
    date_of_issue: date
    amount: ValueDateAmount | CurrencyAmount
    payer: PartyField | None = None
    drawer_bank: PartyField | None = None
    payee: PartyField


class Mt110(MtMessage):
    """Advice of cheque(s): one `Cheque` sequence per cheque."""

    LAYOUT: ClassVar[list[Slot]] = [
        Slot("20", "sender_reference", mandatory=True),
        party("53", "senders_correspondent", "A,B,D"),
        party("54", "receivers_correspondent", "A,B,D"),
        Slot("72", "sender_to_receiver_information", "lines"),
        sequence(Cheque, "cheques", repeat=True, mandatory=True),
    ]

    sender_reference: str
    senders_correspondent: PartyField | None = None
    receivers_correspondent: PartyField | None = None
    sender_to_receiver_information: list[str] = []
    cheques: list[Cheque]


class Mt111(MtMessage):
    """Request for stop payment of a cheque; 75 carries the queries."""

    LAYOUT: ClassVar[list[Slot]] = [
        Slot("20", "sender_reference", mandatory=True),
        Slot("21", "cheque_number", mandatory=True),
        Slot("30", "date_of_issue", "date", mandatory=True),
        Slot("32", "amount", "amount_ab", options=("A", "B"), mandatory=True),
        party("52", "drawer_bank", "A,B,D"),
        party("59", "payee", ""),
        Slot("75", "queries", "lines"),
    ]

    sender_reference: str
    cheque_number: str
    date_of_issue: date
    amount: ValueDateAmount | CurrencyAmount
    drawer_bank: PartyField | None = None
    payee: PartyField | None = None
    queries: list[str] = []


class Mt112(MtMessage):
    """Status of a request for stop payment of a cheque; 76 carries the answers."""

    LAYOUT: ClassVar[list[Slot]] = [
        Slot("20", "sender_reference", mandatory=True),
        Slot("21", "cheque_number", mandatory=True),
        Slot("30", "date_of_issue", "date", mandatory=True),
        Slot("32", "amount", "amount_ab", options=("A", "B"), mandatory=True),
        party("52", "drawer_bank", "A,B,D"),
        party("59", "payee", ""),
        Slot("76", "answers", "lines", mandatory=True),
    ]

    sender_reference: str
    cheque_number: str
    date_of_issue: date
    amount: ValueDateAmount | CurrencyAmount
    drawer_bank: PartyField | None = None
    payee: PartyField | None = None
    answers: list[str]


class Mt200(MtMessage):
    """Financial institution transfer for its own account."""

    LAYOUT: ClassVar[list[Slot]] = [
        Slot("20", "sender_reference", mandatory=True),
        Slot("32A", "settlement", "date_amount", mandatory=True),
        party("53", "senders_correspondent", "B"),
        party("56", "intermediary", "A,D"),
        party("57", "account_with_institution", "A,B,D", mandatory=True),
        Slot("72", "sender_to_receiver_information", "lines"),
    ]

    sender_reference: str
    settlement: ValueDateAmount
    senders_correspondent: PartyField | None = None
    intermediary: PartyField | None = None
    account_with_institution: PartyField
    sender_to_receiver_information: list[str] = []


class Mt204Transaction(MtSequence):
    """MT204 sequence B: one debit from a financial institution's account."""

    SEQUENCE: ClassVar[str] = "B"
    LAYOUT: ClassVar[list[Slot]] = [
        Slot("20", "transaction_reference", mandatory=True),
        Slot("21", "related_reference"),
        Slot("32B", "amount", "amount", mandatory=True),
        party("53", "debit_institution", "A,B,D", mandatory=True),
        Slot("72", "sender_to_receiver_information", "lines"),
    ]

    transaction_reference: str
    related_reference: str | None = None
    amount: CurrencyAmount
    debit_institution: PartyField
    sender_to_receiver_information: list[str] = []


class Mt204(MtMessage):
    """Financial markets direct debit: the total (19) and date (30) in sequence A, one sequence B per debit."""

    LAYOUT: ClassVar[list[Slot]] = [
        Slot("20", "sender_reference", mandatory=True),
        Slot("19", "sum_of_amounts", "total", mandatory=True),
        Slot("30", "value_date", "date", mandatory=True),
        party("57", "account_with_institution", "A,B,D"),
        party("58", "beneficiary_institution", "A,D"),
        Slot("72", "sender_to_receiver_information", "lines"),
        sequence(Mt204Transaction, "transactions", repeat=True, mandatory=True),
    ]

    sender_reference: str
    sum_of_amounts: Total
    value_date: date
    account_with_institution: PartyField | None = None
    beneficiary_institution: PartyField | None = None
    sender_to_receiver_information: list[str] = []
    transactions: list[Mt204Transaction]

    def rule_violations(self) -> list[Violation]:
        # Rule C1: 19 is the sum of the 32B amounts.
        total = sum((t.amount.amount for t in self.transactions), start=Decimal(0))
        if total != self.sum_of_amounts.amount:
            return [
                Violation("4:19", "sum_of_amounts", f"19 is {self.sum_of_amounts.amount}, the 32B add up to {total}")
            ]
        return []


class Mt205(MtMessage):
    """Financial institution transfer execution; with sequence B (the underlying credit transfer) an MT205COV."""

    LAYOUT: ClassVar[list[Slot]] = [
        Slot("20", "sender_reference", mandatory=True),
        Slot("21", "related_reference", mandatory=True),
        Slot("13C", "time_indications", repeat=True),
        Slot("32A", "settlement", "date_amount", mandatory=True),
        party("52", "ordering_institution", "A,D", mandatory=True),
        party("53", "senders_correspondent", "A,B,D"),
        party("56", "intermediary", "A,D"),
        party("57", "account_with_institution", "A,B,D"),
        party("58", "beneficiary_institution", "A,D", mandatory=True),
        Slot("72", "sender_to_receiver_information", "lines"),
        sequence(Mt202Underlying, "underlying"),
    ]

    sender_reference: str
    related_reference: str
    time_indications: list[str] = []
    settlement: ValueDateAmount
    ordering_institution: PartyField
    senders_correspondent: PartyField | None = None
    intermediary: PartyField | None = None
    account_with_institution: PartyField | None = None
    beneficiary_institution: PartyField
    sender_to_receiver_information: list[str] = []
    underlying: Mt202Underlying | None = None

    @property
    def is_cover(self) -> bool:
        return self.underlying is not None


class Mt210Notice(MtSequence):
    """One expected credit of an MT210."""

    SEQUENCE: ClassVar[str] = "notice"
    LAYOUT: ClassVar[list[Slot]] = [
        Slot("21", "related_reference", mandatory=True),
        Slot("32B", "amount", "amount", mandatory=True),
        party("50", "ordering_customer", ",C,F"),
        party("52", "ordering_institution", "A,D"),
        party("56", "intermediary", "A,D"),
    ]

    related_reference: str
    amount: CurrencyAmount
    ordering_customer: PartyField | None = None
    ordering_institution: PartyField | None = None
    intermediary: PartyField | None = None


class Mt210(MtMessage):
    """Notice to receive: the account (25), value date (30) and one notice per expected credit.

    Rule C2: each notice names the ordering customer (50a) or the ordering institution (52a), not both.
    """

    LAYOUT: ClassVar[list[Slot]] = [
        Slot("20", "sender_reference", mandatory=True),
        Slot("25", "account"),
        Slot("30", "value_date", "date", mandatory=True),
        sequence(Mt210Notice, "notices", repeat=True, mandatory=True),
    ]

    sender_reference: str
    account: str | None = None
    value_date: date
    notices: list[Mt210Notice]

    def rule_violations(self) -> list[Violation]:
        bad = [n for n in self.notices if (n.ordering_customer is None) == (n.ordering_institution is None)]
        return [Violation("4:50a", "ordering_party_exclusive", "rule C2: 50a or 52a, not both") for _ in bad]
