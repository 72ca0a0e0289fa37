"""SWIFT FIN framing: blocks 1-5 of one message, RJE batches, and the text block's field list."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field

from canonical.errors import RejectedInput, Violation

_TAG_LINE = re.compile(r"^:(\d{2}[A-Z]?):")
_BLOCK1 = re.compile(r"^([FAL])(\d{2})([A-Z0-9]{12})(\d{4})(\d{6})$")
_BLOCK2_IN = re.compile(r"^I(\d{3})([A-Z0-9]{12})([SNU])?([123])?(\d{3})?$")
_BLOCK2_OUT = re.compile(r"^O(\d{3})(\d{4})(\d{6}[A-Z0-9]{12}\d{10})(\d{6})(\d{4})([SNU])?$")
_SUB_BLOCK = re.compile(r"\{([A-Za-z0-9]+):([^{}]*)\}")
MAX_MESSAGE_CHARS = 100_000  # FIN caps block 4 at 10,000 characters; anything far beyond is not FIN


class BasicHeader(BaseModel):
    """Block 1: application, service, the logical terminal (BIC8 + terminal + branch), session, sequence."""

    model_config = ConfigDict(frozen=True)

    application: str = "F"
    service: str = "01"
    lt_address: str = Field(pattern=r"^[A-Z0-9]{12}$")
    session: str = "0000"
    sequence: str = "000000"

    def render(self) -> str:
        return f"{self.application}{self.service}{self.lt_address}{self.session}{self.sequence}"


class ApplicationHeader(BaseModel):
    """Block 2, input (`I103BANKDEFFXXXXN`) or output (`O103<time><MIR><date><time>N`)."""

    model_config = ConfigDict(frozen=True)

    direction: str = Field(pattern=r"^[IO]$")
    message_type: str = Field(pattern=r"^\d{3}$")
    receiver_lt: str | None = None  # input only
    priority: str | None = None
    delivery_monitoring: str | None = None
    obsolescence: str | None = None
    input_time: str | None = None  # output only, and the four below
    mir: str | None = None
    output_date: str | None = None
    output_time: str | None = None

    def render(self) -> str:
        if self.direction == "I":
            parts = [self.receiver_lt, self.priority, self.delivery_monitoring, self.obsolescence]
        else:
            parts = [self.input_time, self.mir, self.output_date, self.output_time, self.priority]
        return f"{self.direction}{self.message_type}" + "".join(p or "" for p in parts)


class MtHeader(BaseModel):
    """Blocks 1, 2, 3 (user header) and 5 (trailer) of a FIN message, in their original order."""

    model_config = ConfigDict(frozen=True)

    basic: BasicHeader
    application: ApplicationHeader
    user_header: list[tuple[str, str]] = Field(default_factory=list)
    trailer: list[tuple[str, str]] = Field(default_factory=list)

    @property
    def uetr(self) -> str | None:
        return self.user_value("121")

    @property
    def mur(self) -> str | None:
        return self.user_value("108")

    @property
    def message_type(self) -> str:
        return self.application.message_type

    @property
    def sender_bic(self) -> str:
        lt = self.basic.lt_address if self.application.direction == "I" else (self.application.mir or "")[6:18]
        return lt_to_bic(lt)

    @property
    def receiver_bic(self) -> str:
        lt = self.application.receiver_lt or "" if self.application.direction == "I" else self.basic.lt_address
        return lt_to_bic(lt)

    def user_value(self, tag: str) -> str | None:
        return next((v for t, v in self.user_header if t == tag), None)

    @property
    def possible_duplicate(self) -> bool:
        return any(t in ("PDE", "PDM") for t, _ in self.trailer)


class FinMessage(MtHeader):
    """One FIN message: the headers and the text block's fields (tag, value with "\\n" between lines)."""

    fields: list[tuple[str, str]] = Field(default_factory=list)

    @property
    def header(self) -> MtHeader:
        return MtHeader(
            basic=self.basic, application=self.application, user_header=self.user_header, trailer=self.trailer
        )

    def render(self, newline: str = "\r\n") -> str:
        out = [f"{{1:{self.basic.render()}}}{{2:{self.application.render()}}}"]
        if self.user_header:
            out.append("{3:" + "".join(f"{{{t}:{v}}}" for t, v in self.user_header) + "}")
        body = "".join(f"{newline}:{tag}:{value.replace(chr(10), newline)}" for tag, value in self.fields)
        out.append(f"{{4:{body}{newline}-}}")
        if self.trailer:
            out.append("{5:" + "".join(f"{{{t}:{v}}}" for t, v in self.trailer) + "}")
        return "".join(out)


def fin_text(body: bytes, limit: int = MAX_MESSAGE_CHARS) -> str:
    """FIN input as text; RejectedInput when it is over `limit` bytes, or naming the offset of the first
    byte outside ASCII (the SWIFT character sets are within it)."""
    if len(body) > limit:
        raise RejectedInput("message too large", [Violation("message", "too_large", f"{len(body)} bytes")])
    try:
        return body.decode("ascii")
    except UnicodeDecodeError as exc:
        detail = f"byte 0x{body[exc.start]:02x} is outside the SWIFT character set"
        raise RejectedInput("not FIN text", [Violation(f"offset {exc.start}", "x_character_set", detail)]) from None


def lt_to_bic(lt: str) -> str:
    """Logical terminal (BIC8 + terminal code + branch) to BIC11."""
    return lt[:8] + lt[9:12] if len(lt) == 12 else lt


def bic_to_lt(bic: str, terminal: str = "A") -> str:
    return bic[:8] + terminal + (bic[8:11] or "XXX")


def _reject(loc: str, rule: str, detail: str) -> RejectedInput:
    return RejectedInput("SWIFT MT message rejected", [Violation(loc, rule, detail)])


def parse_fin(text: str) -> FinMessage:
    """Parse one FIN message (LF or CRLF line ends); RejectedInput naming the block and rule otherwise."""
    if len(text) > MAX_MESSAGE_CHARS:
        raise _reject("message", "too_large", f"{len(text)} characters, the limit is {MAX_MESSAGE_CHARS}")
    text = text.replace("\r\n", "\n").strip()
    blocks: dict[str, str] = {}
    pos = 0
    while pos < len(text):
        match = re.compile(r"\{([1-5S]):").match(text, pos)
        if match is None:
            raise _reject(f"offset {pos}", "block_syntax", "expected '{n:' opening a block")
        block_id, start = match.group(1), match.end()
        if block_id == "4":
            end = text.find("\n-}", start)
            if end < 0:
                raise _reject("4", "block4_unterminated", "the text block does not end with CRLF '-}'")
            blocks["4"], pos = text[start:end], end + 3
        elif block_id in ("3", "5", "S"):
            end = _matching_brace(text, start)
            if end < 0:
                raise _reject(block_id, "block_unterminated", "missing '}'")
            blocks[block_id], pos = text[start:end], end + 1
        else:
            end = text.find("}", start)
            if end < 0:
                raise _reject(block_id, "block_unterminated", "missing '}'")
            blocks[block_id], pos = text[start:end], end + 1
    for needed in ("1", "2", "4"):
        if needed not in blocks:
            raise _reject(needed, "block_missing", f"block {needed} is mandatory")
    return FinMessage(
        basic=_basic(blocks["1"]),
        application=_application(blocks["2"]),
        user_header=_sub_blocks("3", blocks.get("3", "")),
        fields=_fields(blocks["4"]),
        trailer=_sub_blocks("5", blocks.get("5", "")),
    )


def _matching_brace(text: str, start: int) -> int:
    depth = 1
    for i in range(start, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
    return -1


def _basic(value: str) -> BasicHeader:
    m = _BLOCK1.match(value)
    if m is None:
        raise _reject("1", "block1_format", f"{value!r} is not F01<LT address 12><session 4><sequence 6>")
    return BasicHeader(application=m[1], service=m[2], lt_address=m[3], session=m[4], sequence=m[5])


def _application(value: str) -> ApplicationHeader:
    if (m := _BLOCK2_IN.match(value)) is not None:
        return ApplicationHeader(
            direction="I",
            message_type=m[1],
            receiver_lt=m[2],
            priority=m[3],
            delivery_monitoring=m[4],
            obsolescence=m[5],
        )
    if (m := _BLOCK2_OUT.match(value)) is not None:
        return ApplicationHeader(
            direction="O",
            message_type=m[1],
            input_time=m[2],
            mir=m[3],
            output_date=m[4],
            output_time=m[5],
            priority=m[6],
        )
    raise _reject("2", "block2_format", f"{value!r} is neither an input nor an output application header")


def _sub_blocks(block_id: str, value: str) -> list[tuple[str, str]]:
    pairs = [(m[1], m[2]) for m in _SUB_BLOCK.finditer(value)]
    if _SUB_BLOCK.sub("", value).strip():
        raise _reject(block_id, "block_syntax", "content outside {tag:value} sub-blocks")
    return pairs


def _fields(body: str) -> list[tuple[str, str]]:
    lines = body.split("\n")
    if lines and lines[0] == "":
        lines = lines[1:]
    fields: list[tuple[str, list[str]]] = []
    for line in lines:
        m = _TAG_LINE.match(line)
        if m is not None:
            fields.append((m[1], [line[m.end() :]]))
        elif fields:
            fields[-1][1].append(line)
        else:
            raise _reject("4", "field_syntax", "the text block must start with ':<tag>:'")
    return [(tag, "\n".join(value)) for tag, value in fields]


def split_rje(batch: str) -> list[str]:
    """The FIN messages of an RJE batch (`$`-separated); F21 ACK/NAK service messages in front are dropped."""
    messages = []
    for chunk in batch.replace("\r\n", "\n").split("$"):
        chunk = chunk.strip()
        while chunk.startswith("{1:F21"):
            # An ACK is {1:F21...}{4:{177:...}{451:0}}: skip its two blocks.
            ack_end = chunk.find("}}", chunk.find("{4:"))
            chunk = chunk[ack_end + 2 :].lstrip() if ack_end >= 0 else ""
        if chunk:
            messages.append(chunk)
    return messages
