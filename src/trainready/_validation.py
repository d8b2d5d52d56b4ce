"""One message grammar for bad input: the argument, what was expected, what was received, the fix.

Every check in trainready's core words its complaint the same way::

    rng: expected a numpy.random.Generator, an int seed >= 0 or None, got str ('abc');
    pass e.g. rng=0

:func:`message` builds that sentence and :func:`invalid` the exception that carries it; the
``check_*`` helpers cover the cases that recur (ints, reals, flags, choices, batches).

Example:
    >>> check_int(3, "max_iter", example="10")
    3
    >>> try:
    ...     check_int(0, "max_iter", example="10")
    ... except ValueError as e:
    ...     print(e)
    max_iter: expected an int >= 1, got 0; pass e.g. max_iter=10
"""

from __future__ import annotations

import math
import numbers
import os
import sys
import warnings
from collections.abc import Collection
from typing import Any

__all__ = [
    "check_bool",
    "check_choice",
    "check_int",
    "check_real",
    "describe",
    "invalid",
    "message",
    "warn",
]

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def describe(value: Any, limit: int = 60) -> str:
    """What was received, for a message: the type, and a short repr for small values.

    Example:
        >>> describe("abc"), describe(-1), describe(None)
        ("str ('abc')", '-1', 'None')
    """
    if value is None or isinstance(value, bool | int | float):
        return repr(value)
    text = repr(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    shape = getattr(value, "shape", None)
    if shape is not None and not isinstance(value, numbers.Number):
        return f"{type(value).__name__} of shape {tuple(shape)}"
    return f"{type(value).__name__} ({text})"


def message(arg: str, expected: str, got: str, fix: str = "") -> str:
    """``"{arg}: expected {expected}, got {got}; {fix}"`` (the fix is optional).

    Example:
        >>> message("X", "2 rows or more", "shape (1, 3)", "pass a batch of examples")
        'X: expected 2 rows or more, got shape (1, 3); pass a batch of examples'
    """
    text = f"{arg}: expected {expected}, got {got}"
    return f"{text}; {fix}" if fix else text


def invalid(
    arg: str, expected: str, got: str, fix: str = "", *, kind: type[Exception] = ValueError
) -> Exception:
    """The exception (``kind``, ValueError by default) whose text is :func:`message`'s.

    Example:
        >>> str(invalid("tol", "a positive number", "-1", "pass e.g. tol=0.1"))
        'tol: expected a positive number, got -1; pass e.g. tol=0.1'
    """
    return kind(message(arg, expected, got, fix))


def _fix(arg: str, example: str) -> str:
    return f"pass e.g. {arg}={example}" if example else ""


def check_int(value: Any, arg: str, *, minimum: int = 1, example: str = "") -> int:
    """``value`` as an int >= ``minimum``; bools, floats and strings are refused.

    Raises:
        ValueError: not an int, or below ``minimum`` (TypeError for non-numbers).
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        kind = ValueError if isinstance(value, numbers.Real) else TypeError
        raise invalid(arg, f"an int >= {minimum}", describe(value), _fix(arg, example), kind=kind)
    if value < minimum:
        raise invalid(arg, f"an int >= {minimum}", describe(int(value)), _fix(arg, example))
    return int(value)


def check_real(
    value: Any,
    arg: str,
    *,
    positive: bool = True,
    allow_zero: bool = False,
    example: str = "",
) -> float:
    """``value`` as a finite float (> 0 with ``positive``; >= 0 with ``allow_zero`` too).

    Raises:
        TypeError: not a real number (bools included). ValueError: not finite, or out of range.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise invalid(arg, "a real number", describe(value), _fix(arg, example), kind=TypeError)
    x = float(value)
    what = (
        "a finite number >= 0"
        if positive and allow_zero
        else "a finite number > 0"
        if positive
        else "a finite number"
    )
    if not math.isfinite(x) or (positive and (x < 0 or (x == 0 and not allow_zero))):
        raise invalid(arg, what, describe(value), _fix(arg, example))
    return x


def check_bool(value: Any, arg: str) -> bool:
    """``value`` when it is a bool (NumPy's included); ``"no"``, 0 or None are refused.

    Raises:
        TypeError: anything but True or False.
    """
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return bool(value)
    raise invalid(
        arg, "True or False", describe(value), f"pass {arg}=True or {arg}=False", kind=TypeError
    )


def check_choice(value: Any, arg: str, choices: Collection[str]) -> str:
    """``value`` when it is one of ``choices`` (strings).

    Raises:
        ValueError: anything else; the message lists the choices.
    """
    if not isinstance(value, str) or value not in choices:
        listed = ", ".join(repr(c) for c in choices)
        raise invalid(
            arg, f"one of {listed}", describe(value), f"pass e.g. {arg}={next(iter(choices))!r}"
        )
    return value


def warn(text: str, category: type[Warning]) -> None:
    """``warnings.warn`` attributed to the first caller outside trainready (the user's line).

    Example:
        >>> import warnings
        >>> with warnings.catch_warnings(record=True) as w:
        ...     warnings.simplefilter("always")
        ...     warn("X: float32 promoted to float64", UserWarning)
        >>> w[0].filename.endswith("_validation.py")
        False
    """
    level, frame = 2, sys._getframe(1)  # 1 is this function, 2 its caller
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    warnings.warn(text, category, stacklevel=level)
