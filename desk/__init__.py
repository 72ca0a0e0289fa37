"""The payment desk: business calendars and cut-offs, answers from the networks, ageing, reconciliation."""

PAYMENT_TYPES = ("payment.credit_transfer", "payment.fi_transfer")  # what carries money; the rest is about it
