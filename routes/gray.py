"""Gray-release changes to the routes, as pure functions: promote a version, roll a route back to
its stable version, and the diff an audit entry records. The caller validates and stores the result."""

from __future__ import annotations

from typing import Any

from routes.config import Route


class UnknownRoute(LookupError):
    pass


def _replace(routes: list[Route], name: str, **update: Any) -> list[Route]:
    if not any(r.name == name for r in routes):
        raise UnknownRoute(f"no route {name!r}; routes: {', '.join(r.name for r in routes)}")
    return [Route.model_validate({**r.model_dump(), **update}) if r.name == name else r for r in routes]


def promote(routes: list[Route], name: str, version: str) -> list[Route]:
    """`version` takes all the route's traffic and becomes its stable version."""
    route = next((r for r in routes if r.name == name), None)
    withdrawn = [v for v in route.withdrawn if v != version] if route else []
    return _replace(routes, name, weights={version: 100}, stable=version, shadow=None, withdrawn=withdrawn)


def rollback(routes: list[Route], name: str, candidate: str | None = None) -> list[Route]:
    """All traffic back to the stable version; the candidates (or the one named) are withdrawn, so
    their waiting and retrying messages move to the stable version."""
    route = next((r for r in routes if r.name == name), None)
    if route is None:
        raise UnknownRoute(f"no route {name!r}; routes: {', '.join(r.name for r in routes)}")
    stable = route.stable_version
    out = [candidate] if candidate else [v for v, w in route.weights.items() if v != stable and w > 0]
    withdrawn = sorted({*route.withdrawn, *out} - {stable})
    return _replace(routes, name, weights={stable: 100}, shadow=None, withdrawn=withdrawn)


def diff(before: list[Route], after: list[Route]) -> dict[str, Any]:
    """What changed, per route name: added, removed, or the fields that differ (old and new)."""
    old = {r.name: r.model_dump(mode="json") for r in before}
    new = {r.name: r.model_dump(mode="json") for r in after}
    changed = {
        name: {k: {"before": old[name].get(k), "after": v} for k, v in new[name].items() if old[name].get(k) != v}
        for name in old.keys() & new.keys()
        if old[name] != new[name]
    }
    return {
        "added": sorted(new.keys() - old.keys()),
        "removed": sorted(old.keys() - new.keys()),
        "changed": changed,
        "order_changed": [n for n in [r.name for r in before] if n in new]
        != [n for n in [r.name for r in after] if n in old],
    }
