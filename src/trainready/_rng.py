"""One coercion of the ``rng`` argument into a ``numpy.random.Generator``.

Every stochastic function of trainready takes a keyword-only ``rng``: a Generator (used as is),
an int seed >= 0, a ``SeedSequence`` or None (fresh entropy). Nothing else is accepted, and the
complaint names the argument and the fix instead of NumPy's SeedSequence internals. The global
NumPy random state is never touched.

Example:
    >>> as_generator(0).standard_normal() == as_generator(0).standard_normal()
    True
"""

from __future__ import annotations

import numbers

import numpy as np

from ._validation import describe, invalid

__all__ = ["RngLike", "as_generator"]

#: What an ``rng`` argument may be.
RngLike = np.random.Generator | int | np.random.SeedSequence | None

_EXPECTED = "a numpy.random.Generator, an int seed >= 0 or None"


def as_generator(rng: RngLike, arg: str = "rng") -> np.random.Generator:
    """Turn ``rng`` into a ``numpy.random.Generator``.

    Args:
        rng: a Generator (returned as is), an int seed >= 0 (NumPy ints too), a
            ``SeedSequence``, or None.
        arg: the argument's name, for the message.

    Raises:
        TypeError: a string, float, bool or other object.
        ValueError: a negative seed.

    Example:
        >>> try:
        ...     as_generator("abc")
        ... except TypeError as e:
        ...     print(str(e)[:72])
        rng: expected a numpy.random.Generator, an int seed >= 0 or None, got st
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, np.random.SeedSequence):
        return np.random.default_rng(rng)
    fix = f"pass e.g. {arg}=0 or {arg}=np.random.default_rng(0)"
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool | np.bool_):
        if int(rng) < 0:
            raise invalid(arg, _EXPECTED, describe(int(rng)), fix)
        return np.random.default_rng(int(rng))
    raise invalid(arg, _EXPECTED, describe(rng), fix, kind=TypeError)
