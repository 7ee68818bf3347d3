"""Request dispatch that tries only the routes a path could match.

Starlette's router tries every route in order, a regular expression and a method check each, until
one matches: `POST /api/v1/tickets` was the 45th of 161 routes, and those tries took a tenth of
the CPU of creating a ticket. `RouteIndex` groups the routes by the literal segments their paths
begin with (up to `DEPTH`), so a request tries only the routes whose literal segments it has, in
their original order. The first full match among those is the first full match among all routes
(a route left out cannot match), so the answer is Starlette's. Anything else (a method not
allowed, a redirect to add or drop a trailing slash, not found, websockets, lifespan) goes to the
router's own walk, which gives those answers as it always did.
"""

from __future__ import annotations

from starlette._utils import get_route_path  # the path routes match against, as the router computes it
from starlette.routing import BaseRoute, Match, Router
from starlette.types import Receive, Scope, Send

DEPTH = 3  # literal leading segments that key the index: /api/v1/tickets, /tickets/new, /static


def literal_segments(path: str) -> tuple[str, ...]:
    """The segments a route path begins with that a request path must repeat exactly (no
    parameter in them), at most `DEPTH`: "/tickets/{id}/reply" → ("tickets",)."""
    segments: list[str] = []
    for segment in path.split("/")[1:DEPTH + 1]:
        if "{" in segment:
            break
        segments.append(segment)
    return tuple(segments)


class RouteIndex:
    """An ASGI app standing in for `router.app`: install with `RouteIndex.install(router)` once
    every route is added. The index is rebuilt when routes are added or removed or the list is
    replaced (a route swapped in place for another is not noticed: the app's routes are fixed once
    it is built)."""

    def __init__(self, router: Router) -> None:
        self._router = router
        self._walk = router.app
        self._indexed: tuple[list[BaseRoute] | None, int] = (None, 0)  # the route list indexed, and its length
        self._candidates: dict[tuple[str, ...], list[BaseRoute]] = {}

    @classmethod
    def install(cls, router: Router) -> RouteIndex:
        if router.middleware_stack != router.app:  # router-level middleware would be bypassed
            raise ValueError("RouteIndex stands in for a router without middleware of its own")
        index = cls(router)
        router.middleware_stack = index
        return index

    def _build(self) -> None:
        routes = self._router.routes
        keys = [literal_segments(path) if isinstance(path := getattr(route, "path", None), str) else ()
                for route in routes]
        # for each key, the routes whose key begins it: those are all a path can match whose
        # longest indexed prefix is that key
        self._candidates = {key: [route for route, other in zip(routes, keys, strict=True)
                                  if key[:len(other)] == other]
                            for key in {*keys, ()}}
        self._indexed = (routes, len(routes))

    def candidates(self, path: str) -> list[BaseRoute]:
        """The routes, in order, that a request for `path` could match."""
        indexed, length = self._indexed
        if indexed is not self._router.routes or length != len(indexed):
            self._build()
        segments = tuple(path.split("/")[1:DEPTH + 1])
        for depth in range(len(segments), -1, -1):
            found = self._candidates.get(segments[:depth])
            if found is not None:
                return found
        raise AssertionError("the empty key is always indexed")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for route in self.candidates(get_route_path(scope)):
                match, child_scope = route.matches(scope)
                if match == Match.FULL:
                    scope.setdefault("router", self._router)
                    scope.update(child_scope)
                    await route.handle(scope, receive, send)
                    return
        await self._walk(scope, receive, send)
