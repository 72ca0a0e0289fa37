"""One transaction per message, as CBPR+ has it: the one element at a path, and the UETR it carries.

The XSDs of pain.001, pacs.003 and pacs.010 let their payment blocks repeat; CBPR+ allows one transaction
per message and the canonical models hold exactly one. Errors name the element path and the rule.
"""

from __future__ import annotations

from canonical.errors import RejectedInput, Violation
from canonical.iso20022.tree import Reader, element_path


def only(parent: Reader, path: str) -> Reader:
    """The one element at `path` under `parent`; RejectedInput (`required` / `cbpr_single_transaction`)."""
    found = parent.all(path)
    if not found:
        raise parent.missing(path)
    if len(found) > 1:
        where = f"{element_path(parent.el)}/{path}"
        detail = f"CBPR+ carries one transaction per message, got {len(found)}"
        raise RejectedInput("more than one transaction", [Violation(where, "cbpr_single_transaction", detail)])
    return found[0]


def need_uetr(tx: Reader, path: str) -> str:
    """The UETR at `path`; RejectedInput `uetr_required` naming the element when it is missing."""
    value = tx.text(path)
    if not value:
        where = f"{element_path(tx.el)}/{path}"
        raise RejectedInput("UETR missing", [Violation(where, "uetr_required", "CBPR+ requires the UETR")])
    return value
