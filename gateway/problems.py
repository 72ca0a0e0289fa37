"""RFC 9457 problem details: every error the gateway returns names what failed and why."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

from canonical.errors import Violation


class Problem(Exception):
    def __init__(
        self, status: int, slug: str, title: str, detail: str = "", errors: list[Violation] | None = None, **extra: Any
    ) -> None:
        super().__init__(title)
        self.status, self.slug, self.title, self.detail = status, slug, title, detail
        self.errors = errors or []
        self.extra = extra

    def response(self, instance: str = "") -> JSONResponse:
        body: dict[str, Any] = {
            "type": f"urn:tradehub:problem:{self.slug}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail or self.title,
        }
        if instance:
            body["instance"] = instance
        if self.errors:
            body["errors"] = [{"loc": v.loc, "rule": v.rule, "detail": v.detail} for v in self.errors]
        body.update(self.extra)
        headers = {"WWW-Authenticate": "Bearer"} if self.status == 401 else {}
        if "retry_after" in self.extra:
            headers["Retry-After"] = str(self.extra["retry_after"])
        return JSONResponse(body, status_code=self.status, media_type="application/problem+json", headers=headers)
