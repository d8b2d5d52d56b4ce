"""Gradient checks of JAX code: ``jax.grad``/``jax.vjp`` against the NumPy core's differences.

The analytic side is one ``jax.grad`` (or ``jax.vjp``) call, so ``custom_vjp``/``custom_jvp``
rules are checked through the rule the user wrote; every number of the comparison (steps, noise,
verdicts, hints, kinks) comes from :func:`trainready.gradcheck`. 64-bit types are enabled for the
check only (``jax.enable_x64(True)``, a context manager); the user's setting is left as it was.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Literal

import jax
import numpy as np

from .._rng import as_generator
from ..errors import NondeterministicLossError
from ..gradcheck import GradcheckReport
from ..gradcheck import gradcheck as _numpy_gradcheck
from ._tree import is_floating_leaf, leaf_name, to_float64, to_jax

Mode = Literal["auto", "full", "sample", "probe"]

_KEY_FIX = (
    "make the loss a pure function of params: pass a fixed PRNG key (e.g. jax.random.key(0)) "
    "instead of splitting a key it closes over on every call, or switch dropout off"
)


def _run_core(
    loss: Callable[[dict[str, Any]], float],
    named: dict[str, np.ndarray],
    grads: dict[str, np.ndarray],
    options: dict[str, Any],
    what: str,
) -> GradcheckReport:
    try:
        return _numpy_gradcheck(loss, named, grads, **options)
    except NondeterministicLossError as exc:
        raise NondeterministicLossError(
            f"{what}: expected the same value from two calls at the same parameters, got "
            f"different values ({exc}); {_KEY_FIX}"
        ) from exc


def _float32_note(dtypes: dict[str, Any]) -> tuple[str, ...]:
    low = sorted(n for n, d in dtypes.items() if np.dtype(d).itemsize < 8)
    if not low:
        return ()
    kinds = ", ".join(sorted({str(np.dtype(dtypes[n])) for n in low}))
    return (
        f"{len(low)} {kinds} leaves ({', '.join(low[:5])}{', ...' if len(low) > 5 else ''}) "
        "were checked in float64; the arrays you passed are unchanged",
    )


def gradcheck(
    loss_fn: Callable[[Any], Any],
    params: Any,
    *,
    mode: Mode = "auto",
    eps: float | None = None,
    rng: np.random.Generator | int | None = 0,
    samples: int = 10,
    probes: int = 3,
    progress: Callable[[int, int], None] | None = None,
) -> GradcheckReport:
    """Check ``jax.grad(loss_fn)(params)`` against numeric differences of ``loss_fn``.

    Args:
        loss_fn: ``loss_fn(params) -> scalar``, a pure function (``jax.jit``-ed is fine).
        params: any pytree of floating arrays (dicts, lists, tuples, nested). Leaves are named
            by their path, e.g. ``"Dense_0/kernel"`` or ``"layers/0/w"`` (``"x"`` for a bare
            array). Never modified; float32 leaves are checked in float64 (a note says so).
        mode, eps, rng, samples, probes, progress: as in :func:`trainready.gradcheck`.

    Returns:
        A :class:`trainready.GradcheckReport` keyed by the leaf names.

    Raises:
        TypeError: a leaf is not a floating array, or ``loss_fn`` is not callable.
        NondeterministicLossError: ``loss_fn`` gives two values at the same parameters.

    Example:
        >>> import jax.numpy as jnp, trainready as tr
        >>> rep = tr.jax.gradcheck(lambda p: jnp.sum(jnp.tanh(p["layers"][0]["w"])),
        ...                        {"layers": [{"w": jnp.ones((2, 3))}]})
        >>> rep.verdict, list(rep.params)
        ('ok', ['layers/0/w'])
    """
    if not callable(loss_fn):
        raise TypeError(
            f"loss_fn: expected a callable loss_fn(params) -> scalar, got "
            f"{type(loss_fn).__name__}; pass a function of the params pytree"
        )
    leaves, treedef = jax.tree_util.tree_flatten_with_path(params)
    if not leaves:
        raise ValueError(
            "params: expected a pytree with at least one floating array leaf, got none; "
            "pass the arrays to check (e.g. {'w': jnp.ones(3)})"
        )
    names: list[str] = []
    for path, leaf in leaves:
        name = leaf_name(path) or "x"
        if not is_floating_leaf(leaf):
            raise TypeError(
                f"params: expected floating array leaves, got {type(leaf).__name__} "
                f"(dtype {getattr(leaf, 'dtype', None)}) at {name!r}; pass only the arrays "
                "to check and close over the rest in loss_fn"
            )
        names.append(name)
    named = {n: to_float64(leaf) for n, (_, leaf) in zip(names, leaves, strict=True)}
    dtypes = {n: np.asarray(leaf).dtype for n, (_, leaf) in zip(names, leaves, strict=True)}

    def rebuild(values: dict[str, np.ndarray]) -> Any:
        return jax.tree_util.tree_unflatten(treedef, [to_jax(values[n]) for n in names])

    def loss(values: dict[str, np.ndarray]) -> float:
        return float(loss_fn(rebuild(values)))

    options = dict(mode=mode, eps=eps, rng=rng, samples=samples, probes=probes, progress=progress)
    with jax.enable_x64(True):
        grad_tree = jax.grad(loss_fn)(rebuild(named))
        grad_leaves = jax.tree_util.tree_leaves(grad_tree)  # the same structure as params
        grads = {n: to_float64(g) for n, g in zip(names, grad_leaves, strict=True)}
        report = _run_core(loss, named, grads, options, "loss_fn")
    return dataclasses.replace(report, notes=report.notes + _float32_note(dtypes))


def check_function(
    fn: Callable[..., Any],
    *args: Any,
    mode: Mode = "auto",
    eps: float | None = None,
    rng: np.random.Generator | int | None = 0,
    samples: int = 10,
    probes: int = 3,
) -> GradcheckReport:
    """Check the reverse-mode derivative of ``fn`` (e.g. a ``jax.custom_vjp`` function).

    The counterpart of ``jax.test_util.check_grads(fn, args, order=1, modes=("rev",))``: the
    floating array leaves of ``args`` are checked (other arguments pass through unchanged),
    through the scalar ``sum_k <R_k, out_k>`` over the floating output leaves with fixed
    Gaussian ``R_k`` drawn once from ``rng``. Its gradient is ``J^T R``, computed by one
    ``jax.vjp`` with the cotangents ``R_k``: every output is exercised and any wrong Jacobian
    entry shows up with probability one.

    Args:
        fn: called as ``fn(*args)``; returns an array or a pytree of arrays.
        *args: the arguments; floating array leaves are named ``"arg0"``, ``"arg1"``, ... by
            position, with the pytree path inside an argument (``"arg1/w"``).
        mode, eps, rng, samples, probes: as in :func:`trainready.gradcheck`.

    Returns:
        A :class:`trainready.GradcheckReport`.

    Example:
        >>> import jax, jax.numpy as jnp, trainready as tr
        >>> @jax.custom_vjp
        ... def cube(x):
        ...     return x**3
        >>> cube.defvjp(lambda x: (x**3, x), lambda x, g: (2 * x**2 * g,))  # wrong: 3 x^2
        >>> rep = tr.jax.check_function(cube, jnp.linspace(-1.0, 1.0, 5))
        >>> rep.verdict, rep.params["arg0"].hint.split(" for")[0]
        ('wrong', 'analytic ≈ 0.67 × numeric')
    """
    if not callable(fn):
        raise TypeError(
            f"fn: expected a callable fn(*args), got {type(fn).__name__}; pass the function "
            "to check (e.g. a jax.custom_vjp function)"
        )
    flat_args, args_def = jax.tree_util.tree_flatten_with_path(tuple(args))
    slots = [i for i, (_, leaf) in enumerate(flat_args) if is_floating_leaf(leaf)]
    if not slots:
        raise ValueError(
            "args: expected at least one floating array argument, got none; pass the arrays "
            "to differentiate with respect to (e.g. jnp.ones(3))"
        )
    names = []
    for i in slots:
        name = leaf_name(flat_args[i][0])
        head, _, rest = name.partition("/")
        names.append(f"arg{head}" + (f"/{rest}" if rest else ""))
    named = {n: to_float64(flat_args[i][1]) for n, i in zip(names, slots, strict=True)}
    dtypes = {n: np.asarray(flat_args[i][1]).dtype for n, i in zip(names, slots, strict=True)}
    gen = as_generator(rng)

    def call(checked: list[Any]) -> list[Any]:
        leaves = [leaf for _, leaf in flat_args]
        for i, value in zip(slots, checked, strict=True):
            leaves[i] = value
        out = fn(*jax.tree_util.tree_unflatten(args_def, leaves))
        return [o for o in jax.tree_util.tree_leaves(out) if is_floating_leaf(o)]

    with jax.enable_x64(True):
        start = [to_jax(named[n]) for n in names]
        outs, vjp_fn = jax.vjp(call, start)
        if not outs:
            raise ValueError(
                "fn: expected at least one floating array output, got none; return the "
                "arrays whose derivative should be checked"
            )
        # R_k in each output's dtype (what the VJP accepts), the same values on both sides
        cotangents = [jax.numpy.asarray(gen.standard_normal(np.shape(o)), o.dtype) for o in outs]
        weights = [to_float64(c) for c in cotangents]
        (cotangent,) = vjp_fn(cotangents)
        grads = {n: to_float64(g) for n, g in zip(names, cotangent, strict=True)}

        def loss(values: dict[str, np.ndarray]) -> float:
            results = call([to_jax(values[n]) for n in names])
            return float(
                sum(
                    np.sum(w * np.asarray(o, np.float64))
                    for w, o in zip(weights, results, strict=True)
                )
            )

        options = dict(mode=mode, eps=eps, rng=gen, samples=samples, probes=probes)
        report = _run_core(loss, named, grads, options, "fn")
    return dataclasses.replace(report, notes=report.notes + _float32_note(dtypes))
