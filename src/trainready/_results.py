"""The result protocol: what every frozen result of a check offers.

A result (a gradient-check report, a diagnosis, an init or LSUV table) says whether all is well
(``ok``), says it in words (``summary()``), gives its numbers to JSON (``to_dict()``) and shows
itself in a notebook (``_repr_html_``). Front ends (the CLI, the HTML report) read these fields;
they never parse the text.

Example:
    >>> class Fine(HtmlFromSummary):
    ...     ok = True
    ...     def summary(self) -> str: return "all fine"
    ...     def to_dict(self) -> dict: return {"ok": True}
    >>> isinstance(Fine(), Result), Fine()._repr_html_()
    (True, '<pre>all fine</pre>')
"""

from __future__ import annotations

import html
from typing import Any, Protocol, runtime_checkable

__all__ = ["HtmlFromSummary", "Result"]


@runtime_checkable
class Result(Protocol):
    """What every result object offers (``ok`` may be a property or an attribute)."""

    @property
    def ok(self) -> bool: ...

    def summary(self) -> str: ...

    def to_dict(self) -> dict[str, Any]: ...

    def _repr_html_(self) -> str: ...


class HtmlFromSummary:
    """Mixin: ``_repr_html_`` shows ``summary()`` as preformatted, escaped text."""

    def summary(self) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(self.summary())}</pre>"
