"""``check_function``'s machinery: a function of the checked leaves, the scalar each check
differentiates, both modes of AD, every output on its own, and derivatives of derivatives.

A checked function ``F`` maps the floating leaves of the arguments (a list of arrays) to the
floating leaves of its outputs. Every check is the core's: the scalar is ``sum_k <R_k, out_k>``
with fixed Gaussian ``R_k``, its numeric gradient comes from :func:`trainready.gradcheck`, its
analytic gradient from JAX -- ``J^T R`` by one ``jax.vjp`` (reverse mode), or column by column,
``<R, J e_i>``, by JVPs along the basis vectors (forward mode; see :func:`fwd_grads`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import NondeterministicLossError
from ..gradcheck import GradcheckReport
from ..gradcheck import gradcheck as _numpy_gradcheck
from ._compiled import Compiled, worth_compiling
from ._tree import to_float64, to_jax

AD = Literal["fwd", "rev"]
Leaves = list[Any]
Fn = Callable[[Leaves], Leaves]

_KEY_FIX = (
    "make the loss a pure function of params: pass a fixed PRNG key (e.g. jax.random.key(0)) "
    "instead of splitting a key it closes over on every call, or switch dropout off"
)
_BASIS_ELEMENTS = 1 << 22  # forward mode: basis rows per batch x N stays below this


def run_core(
    loss: Callable[[dict[str, Any]], float],
    named: dict[str, np.ndarray],
    grads: dict[str, np.ndarray],
    options: dict[str, Any],
    what: str,
) -> GradcheckReport:
    """:func:`trainready.gradcheck`, with a JAX-worded nondeterminism error."""
    try:
        return _numpy_gradcheck(loss, named, grads, **options)
    except NondeterministicLossError as exc:
        raise NondeterministicLossError(
            f"{what}: expected the same value from two calls at the same parameters, got "
            f"different values ({exc}); {_KEY_FIX}"
        ) from exc


@dataclasses.dataclass(frozen=True)
class Target:
    """A function to check: ``fn(xs) -> outputs``, its inputs' names and float64 start values,
    its outputs' labels and what it is ("" for the user's function, "the VJP", ...)."""

    fn: Fn
    names: list[str]
    x0: list[np.ndarray]
    labels: list[str]
    what: str = ""
    precision: Any = np.float64  # the lowest float type the function computes in

    def lowest(self, outs: Leaves) -> np.dtype[Any]:
        """The lowest float type among ``outs`` and this function's own precision."""
        types = [np.dtype(self.precision), *(np.dtype(o.dtype) for o in outs)]
        return min(types, key=lambda d: d.itemsize)

    def start(self) -> Leaves:
        return [to_jax(v) for v in self.x0]


def _weights(outs: Leaves, gen: np.random.Generator) -> list[np.ndarray]:
    """Gaussian R_k, rounded to each output's dtype (what a VJP accepts), as float64; 0 where
    the output is NaN or inf at the given inputs (left out of the check, as torch's adapter
    does: ``log`` of a negative element is not a wrong derivative)."""
    weights = []
    for o in outs:
        w = to_float64(jnp.asarray(gen.standard_normal(np.shape(o)), o.dtype))
        w[~np.isfinite(np.asarray(o, np.float64))] = 0.0
        weights.append(w)
    return weights


def _nonfinite_note(outs: Leaves) -> tuple[str, ...]:
    bad = sum(int(np.count_nonzero(~np.isfinite(np.asarray(o, np.float64)))) for o in outs)
    if not bad:
        return ()
    return (f"{bad} output element(s) are NaN or inf at the given inputs: left out of the check",)


def rev_grads(fn: Fn, x: Leaves, weights: list[np.ndarray], only: int | None = None) -> Leaves:
    """``J^T R`` by one ``jax.vjp``; with ``only=k`` the function returns output k alone, so a
    ``custom_vjp`` backward gets no cotangent (a symbolic zero) for the others."""
    if only is None:
        outs, vjp = jax.vjp(fn, x)
        cts = [jnp.asarray(w, o.dtype) for w, o in zip(weights, outs, strict=True)]
    else:
        outs, vjp = jax.vjp(lambda xs: [fn(xs)[only]], x)
        cts = [jnp.asarray(weights[only], outs[0].dtype)]
    (grads,) = vjp(cts)
    return [to_float64(g) for g in grads]


def fwd_grads(fn: Fn, x: Leaves, weights: list[np.ndarray]) -> Leaves:
    """The gradient of ``L = sum_k <R_k, out_k>`` by forward mode: element i is ``<R, J e_i>``,
    one JVP along the basis vector ``e_i`` (``jax.linearize`` once, then the linear map batched
    with ``vmap``), as ``jax.jacfwd`` does. N JVPs: exact per element, and slow for large N."""
    shapes = [np.shape(a) for a in x]
    sizes = [int(np.prod(s)) for s in shapes]
    cuts = np.cumsum(sizes)[:-1].tolist()

    def scalar(theta: jax.Array) -> jax.Array:
        xs = [p.reshape(s) for p, s in zip(jnp.split(theta, cuts), shapes, strict=True)]
        outs = fn(xs)
        terms = [
            jnp.vdot(jnp.asarray(w), o.astype(jnp.float64))
            for w, o in zip(weights, outs, strict=True)
        ]
        return sum(terms, jnp.zeros((), jnp.float64))

    theta0 = jnp.concatenate([jnp.ravel(a) for a in x])
    n = int(theta0.size)
    _, linear = jax.linearize(scalar, theta0)
    batched = jax.jit(jax.vmap(linear))
    rows = max(1, min(n, _BASIS_ELEMENTS // max(n, 1)))
    flat = np.empty(n)
    for start in range(0, n, rows):
        cols = np.arange(start, min(start + rows, n))
        basis = np.zeros((rows, n))
        basis[np.arange(cols.size), cols] = 1.0
        flat[cols] = np.asarray(batched(jnp.asarray(basis)), np.float64)[: cols.size]
    return [p.reshape(s) for p, s in zip(np.split(flat, cuts), shapes, strict=True)]


def _core_check(
    target: Target,
    weights: list[np.ndarray],
    grads: Leaves,
    options: dict[str, Any],
    only: int | None = None,
) -> GradcheckReport:
    named = dict(zip(target.names, target.x0, strict=True))
    size = sum(v.size for v in target.x0)
    numeric_side = Compiled(
        target.fn, target.names, compile=worth_compiling(options.get("mode", "auto"), size)
    )  # eager, then compiled (see _compiled.py)

    def loss(values: dict[str, np.ndarray]) -> Any:
        outs = numeric_side(values)
        total = float(
            sum(
                np.sum(w * np.asarray(o, np.float64), where=w != 0)  # NaN outputs left out
                for k, (w, o) in enumerate(zip(weights, outs, strict=True))
                if only is None or k == only
            )
        )
        low = target.lowest(outs)  # float32 inside: say so, the core then expects its noise
        return total if low.itemsize >= 8 else np.asarray(total, low)

    return run_core(loss, named, dict(zip(target.names, grads, strict=True)), options, "fn")


def check_target(
    target: Target, ad: AD, gen: np.random.Generator, options: dict[str, Any]
) -> GradcheckReport:
    """One check of ``target`` in mode ``ad``; in reverse mode with several outputs, every
    output's backward path as well (:func:`check_each_output`)."""
    x = target.start()
    outs = target.fn(x)
    if not outs:
        raise ValueError(
            "fn: expected at least one floating array output, got none; return the arrays "
            "whose derivative should be checked"
        )
    weights = _weights(outs, gen)
    try:
        grads = (rev_grads if ad == "rev" else fwd_grads)(target.fn, x, weights)
    except TypeError as exc:
        if ad == "fwd" and "custom_vjp" in str(exc):
            raise TypeError(
                "modes: expected modes fn supports, got 'fwd' for a function with a "
                "jax.custom_vjp rule (JAX defines no forward mode for it); pass modes=('rev',)"
            ) from exc
        raise
    together = _core_check(target, weights, grads, options)
    if ad == "rev" and len(outs) > 1:
        together = check_each_output(target, x, weights, grads, together, options)
    note = _nonfinite_note(outs)
    return dataclasses.replace(together, notes=together.notes + note) if note else together


def check_each_output(
    target: Target,
    x: Leaves,
    weights: list[np.ndarray],
    whole: Leaves,
    together: GradcheckReport,
    options: dict[str, Any],
) -> GradcheckReport:
    """One VJP per output (the others given no cotangent, as torch's one-hot checks do). By
    linearity they must add up to the VJP of all outputs together, which the main check
    verified; when they do not, or when that check failed, each output is checked alone against
    numeric differences and the report of the first wrong one is returned, the output named."""
    parts = [rev_grads(target.fn, x, weights, only=k) for k in range(len(weights))]
    total = [sum(p[i] for p in parts) for i in range(len(whole))]
    low = min(np.finfo(np.asarray(o).dtype).eps for o in target.fn(x))
    rtol = max(1e-10, 100 * float(low))
    agree = all(
        np.allclose(t, w, rtol=rtol, atol=rtol * max(1.0, float(np.max(np.abs(w), initial=0))))
        for t, w in zip(total, whole, strict=True)
    )
    if agree and together.verdict != "wrong":
        return together
    alone = [_core_check(target, weights, parts[k], options, only=k) for k in range(len(parts))]
    wrong = [k for k, rep in enumerate(alone) if not rep.passed]
    if not wrong:
        return together
    named = ", ".join(target.labels[k] for k in wrong)
    fine = ", ".join(target.labels[k] for k in range(len(alone)) if k not in wrong) or "none"
    if agree:
        why = f"the derivative is wrong through output {named} (ok alone: {fine})"
    else:
        why = (
            f"output {named} alone (the other outputs given no cotangent, a symbolic zero) is "
            "wrong: the backward takes a different path when some outputs have no gradient, "
            "and that path is wrong"
        )
    note = f"{why}; the check of all outputs together said: {together.summary()}"
    first = alone[wrong[0]]
    return dataclasses.replace(first, notes=(note, *first.notes))


def vjp_of(target: Target, gen: np.random.Generator, label: str) -> Target:
    """``xs -> vjp(fn, xs)(R)``: the reverse-mode derivative as a function, fixed Gaussian R."""
    outs = target.fn(target.start())
    cts = [jnp.asarray(gen.standard_normal(np.shape(o)), o.dtype) for o in outs]

    def vjp_fn(xs: Leaves) -> Leaves:
        (grads,) = jax.vjp(target.fn, xs)[1](cts)
        return list(grads)

    labels = [f"d/d{n}" for n in target.names]
    return Target(vjp_fn, target.names, target.x0, labels, label, target.lowest(outs))


def jvp_of(target: Target, gen: np.random.Generator, label: str) -> Target:
    """``xs -> jvp(fn, xs, T)``: the forward-mode derivative as a function, fixed Gaussian T."""
    tangents = [to_jax(gen.standard_normal(np.shape(v))) for v in target.x0]

    def jvp_fn(xs: Leaves) -> Leaves:
        return list(jax.jvp(target.fn, (xs,), (tangents,))[1])

    low = target.lowest(target.fn(target.start()))
    return Target(jvp_fn, target.names, target.x0, target.labels, label, low)


def check_all(
    target: Target,
    order: int,
    modes: Sequence[AD],
    gen: np.random.Generator,
    options: dict[str, Any],
) -> list[tuple[str, GradcheckReport]]:
    """Every check ``jax.test_util.check_grads`` makes, in its order: for each mode the
    function's derivative, then (order > 1) that derivative's own derivatives, recursively."""
    results = []
    for ad in modes:
        label = ("VJP" if ad == "rev" else "JVP") + (f" of {target.what}" if target.what else "")
        results.append((label, check_target(target, ad, gen, options)))
        if order > 1:
            make = vjp_of if ad == "rev" else jvp_of
            results += check_all(make(target, gen, f"the {label}"), order - 1, modes, gen, options)
    return results


def combine(results: list[tuple[str, GradcheckReport]]) -> GradcheckReport:
    """The first wrong check's report (else the first not passed, else the first), with a
    note listing every check when there were several; evaluations summed over all."""
    order = sorted(range(len(results)), key=lambda i: (results[i][1].verdict != "wrong", i))
    failing = [i for i in order if not results[i][1].passed]
    label, report = results[failing[0] if failing else 0]
    if len(results) == 1:
        return report
    listing = "; ".join(f"{lab}: {rep.verdict}" for lab, rep in results)
    note = f"this report is the {label} check; all checks: {listing}"
    total = sum(rep.evaluations for _, rep in results)
    return dataclasses.replace(report, evaluations=total, notes=(note, *report.notes))
