"""The one declaration of personal or sensitive payload fields.

Annotate a field `Annotated[str, Sensitive()]`; masking, field encryption at rest and the export
guard all read `sensitive_paths(model)`, so the declaration is never repeated elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, get_args, get_origin

from pydantic import BaseModel


@dataclass(frozen=True)
class Sensitive:
    """Marks a field as personal / sensitive (GB/T 35273, GB/T 43697)."""

    kind: str = "personal"


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models_in(arg)] if get_origin(annotation) else []


def sensitive_paths(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Dotted paths of every field declared Sensitive in `model` and its nested models ('*' for list items)."""
    paths: list[str] = []
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        if any(isinstance(m, Sensitive) for m in info.metadata):
            paths.append(path)
            continue
        origin = get_origin(info.annotation)
        nested_prefix = f"{path}.*." if origin in (list, tuple, set) else f"{path}."
        for sub in _models_in(info.annotation):
            paths.extend(sensitive_paths(sub, nested_prefix))
    return paths


def mask(data: Any, paths: list[str]) -> Any:
    """A copy of `data` (plain JSON-like) with the values at `paths` replaced by '***'."""
    import copy

    out = copy.deepcopy(data)
    for path in paths:
        _mask_path(out, path.split("."))
    return out


def _mask_path(node: Any, parts: list[str]) -> None:
    if not parts or node is None:
        return
    head, rest = parts[0], parts[1:]
    if head == "*" and isinstance(node, list):
        for item in node:
            _mask_path(item, rest)
    elif isinstance(node, dict) and head in node:
        if rest:
            _mask_path(node[head], rest)
        elif node[head] is not None:
            node[head] = "***"
