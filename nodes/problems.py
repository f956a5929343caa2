"""The node's refusals, decided below the web layer and worded for people.

A :class:`Problem` carries the HTTP ``status`` it becomes, the wire ``code`` (an OAuth or VC error name) and a
``detail`` safe to show. Routes answer it as problem+json or a page (:class:`nodes.web.errors.ProblemError` is one
that the web layer raises itself), and the CLI prints its detail.
"""

from __future__ import annotations


class Problem(Exception):
    """A refusal with its ``status``, ``code`` and readable ``detail``."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail
