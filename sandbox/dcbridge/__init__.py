"""A sandbox of a multilateral CBDC bridge (modelled on the public descriptions of mBridge).

Central banks issue their CBDC against reserves and cap what each participant may pay; commercial
banks hold wallets, pay each other directly, and exchange currencies payment-versus-payment on quotes
to published demands (two simulated liquidity providers quote by themselves, market.py). Every
settlement is atomic and appended to a hash chain with proofs.
"""

from sandbox.dcbridge.chain import GENESIS, Entry, chain_problems, link, proves_inclusion
from sandbox.dcbridge.flows import Settlements
from sandbox.dcbridge.ledger import Ledger, Leg, Movement, Participant
from sandbox.dcbridge.model import BridgeError, canonical_bytes
from sandbox.dcbridge.server import Bridge, SettlementInterrupted

__all__ = [
    "GENESIS",
    "Bridge",
    "BridgeError",
    "Entry",
    "Ledger",
    "Leg",
    "Movement",
    "Participant",
    "SettlementInterrupted",
    "Settlements",
    "canonical_bytes",
    "chain_problems",
    "link",
    "proves_inclusion",
]
