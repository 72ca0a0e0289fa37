"""Messages the hub itself originates."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from canonical.registry import message_type


@message_type("hub.status_notification")
class StatusNotification(BaseModel):
    """Tells an institution that one of its messages reached a status (delivered by webhook)."""

    model_config = ConfigDict(extra="forbid")

    message_id: str
    message_type: str
    status: str
    at: datetime
    correlation_id: str = ""
    detail: dict[str, Any] = Field(default_factory=dict)
