"""The multilateral CBDC bridge (mBridge-like): payment demands settled payment-versus-payment, and
bilateral transfers, each with a proof of inclusion in the bridge's hash chain.

`send` drives a whole demand: publish (idempotent on the demand id), wait for liquidity providers'
quotes, accept the best, wait for settlement, read the settled entry back and check it against the
proof. The Receipt (final) carries the settlement, the proof and the steps with their times; the
pipeline journals it, so the proof is anchored in the hub's own hash chain. A retry after a crash or a
timeout publishes the same demand again, which the bridge answers with its current state: the flow
continues where it stopped and never creates a second settlement. The bridge's API is in
docs/digital-currency.md.
"""

from adapters.dcbridge.adapter import DcBridgeAdapter
from adapters.dcbridge.wire import BridgeSettings, best_quote, bridge_amount, record_of

__all__ = ["BridgeSettings", "DcBridgeAdapter", "best_quote", "bridge_amount", "record_of"]
