"""Gradient checks of JAX code: ``jax.grad``/``jax.vjp``/``jax.jvp`` against the core's differences.

The analytic side is JAX's own derivative, so ``custom_vjp``/``custom_jvp`` rules are checked
through the rule the user wrote; every number of the comparison (steps, noise, verdicts, hints,
kinks) comes from :func:`trainready.gradcheck`. 64-bit types are enabled for the check only
(``jax.enable_x64(True)``, a context manager); the user's setting is left as it was.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np

from .._rng import as_generator
from .._validation import check_int, describe, invalid
from ..gradcheck import GradcheckReport
from ._compiled import Compiled, worth_compiling
from ._outputs import AD, Target, check_all, combine, run_core
from ._tree import Flat, is_floating_leaf, nnx_module, skipped_note, to_float64, to_jax

Mode = Literal["auto", "full", "sample", "probe"]
ProgressFn = Callable[[int, int], None]


def _float32_note(dtypes: dict[str, Any]) -> tuple[str, ...]:
    low = sorted(n for n, d in dtypes.items() if np.dtype(d).itemsize < 8)
    if not low:
        return ()
    kinds = ", ".join(sorted({str(np.dtype(dtypes[n])) for n in low}))
    return (
        f"{len(low)} {kinds} leaves ({', '.join(low[:5])}{', ...' if len(low) > 5 else ''}) "
        "were checked in float64; the arrays you passed are unchanged",
    )


def _as_float64(tree: Any) -> Any:
    """A copy of ``tree`` with every floating leaf float64 (inside ``enable_x64``)."""
    return jax.tree_util.tree_map(lambda a: to_jax(a) if is_floating_leaf(a) else a, tree)


def _module_target(loss_fn: Callable[[Any], Any], model: Any) -> tuple[Callable[[Any], Any], Any]:
    """An ``nnx.Module``: its ``nnx.Param`` state is checked; ``loss_fn`` gets a fresh model
    (``nnx.merge(..., copy=True)``) each call, so the user's model is never touched."""
    nnx = nnx_module()
    graphdef, state, rest = nnx.split(model, nnx.Param, ...)
    rest64 = _as_float64(rest)  # batch statistics float64 too, as torch's buffers

    def on_state(st: Any) -> Any:
        return loss_fn(nnx.merge(graphdef, st, rest64, copy=True))

    return on_state, state


def gradcheck(
    loss_fn: Callable[[Any], Any],
    params: Any,
    *,
    mode: Mode = "auto",
    eps: float | None = None,
    rng: np.random.Generator | int | None = 0,
    samples: int = 10,
    probes: int = 3,
    progress: ProgressFn | None = None,
) -> GradcheckReport:
    """Check ``jax.grad(loss_fn)(params)`` against numeric differences of ``loss_fn``.

    Args:
        loss_fn: ``loss_fn(params) -> scalar``, a pure function (``jax.jit``-ed is fine).
        params: any pytree (dicts, lists, tuples, Flax ``nnx.State``, a registered dataclass
            such as an Equinox-style module) or a Flax ``nnx.Module``. Floating array leaves
            are checked, named by their path: ``"Dense_0/kernel"``, ``"layers/0/w"``, ``"x"``
            for a bare array (an ``nnx.Param`` by where it sits, ``"layers/0/kernel"``). Other
            leaves (ints, bools, PRNG keys, static fields) are passed through unchanged and
            not checked (a note lists them). For an ``nnx.Module`` its ``nnx.Param`` state is
            checked and ``loss_fn(model)`` receives a fresh copy made with ``nnx.merge`` (the
            other state, e.g. batch statistics, in float64 too). Never modified; float32 leaves
            are checked in float64 (a note says so).
        mode, eps, rng, samples, probes, progress: as in :func:`trainready.gradcheck`.

    Returns:
        A :class:`trainready.GradcheckReport` keyed by the leaf names.

    Raises:
        TypeError: no floating array leaf, or ``loss_fn`` is not callable.
        NondeterministicLossError: ``loss_fn`` gives two values at the same parameters.

    Example:
        >>> import jax.numpy as jnp, trainready as tr
        >>> rep = tr.jax.gradcheck(lambda p: jnp.sum(jnp.tanh(p["layers"][0]["w"])),
        ...                        {"layers": [{"w": jnp.ones((2, 3))}], "n": 3})
        >>> rep.verdict, list(rep.params)
        ('ok', ['layers/0/w'])
    """
    if not callable(loss_fn):
        raise TypeError(
            f"loss_fn: expected a callable loss_fn(params) -> scalar, got "
            f"{type(loss_fn).__name__}; pass a function of the params pytree"
        )
    nnx = nnx_module()
    with jax.enable_x64(True):
        if nnx is not None and isinstance(params, nnx.Module):
            loss_fn, params = _module_target(loss_fn, params)
        flat = Flat.of(params)
        if not flat.leaves:
            raise ValueError(
                "params: expected a pytree with at least one floating array leaf, got none; "
                "pass the arrays to check (e.g. {'w': jnp.ones(3)})"
            )
        if not flat.slots:
            leaf = flat.leaves[0]
            raise TypeError(
                f"params: expected floating array leaves to check, got only other leaves, "
                f"e.g. {type(leaf).__name__} (dtype {getattr(leaf, 'dtype', None)}) at "
                f"{flat.names[0]!r}; pass the float arrays to check and close over the rest "
                "in loss_fn"
            )
        names = flat.checked
        named = {n: to_float64(v) for n, v in zip(names, flat.values(), strict=True)}
        dtypes = {n: np.asarray(v).dtype for n, v in zip(names, flat.values(), strict=True)}

        def on_leaves(leaves: list[Any]) -> Any:
            return loss_fn(flat.rebuild(leaves))

        size = sum(v.size for v in named.values())
        numeric_side = Compiled(on_leaves, names, compile=worth_compiling(mode, size))

        def loss(values: dict[str, np.ndarray]) -> Any:
            value = np.asarray(numeric_side(values))  # a float32 loss keeps its type
            return float(value) if value.dtype == np.float64 else value

        options = dict(
            mode=mode, eps=eps, rng=rng, samples=samples, probes=probes, progress=progress
        )
        grad_leaves = jax.grad(on_leaves)([to_jax(named[n]) for n in names])
        grads = {n: to_float64(g) for n, g in zip(names, grad_leaves, strict=True)}
        report = run_core(loss, named, grads, options, "loss_fn")
    notes = _float32_note(dtypes) + skipped_note(flat, "params")
    return dataclasses.replace(report, notes=report.notes + notes)


def _real_outputs(out: Any) -> tuple[list[Any], list[str]]:
    """The output leaves to check and their labels: the floating ones, and a complex one as its
    real and imaginary parts (``"output.real"``, ``"output.imag"``) -- a function into C^m is
    checked as the function into R^2m it is, differentiated through JAX's rules for
    ``real``/``imag`` (``lax.complex``, ``jnp.fft`` of a real input, ...). Other leaves
    (ints, bools) have no derivative and are left out."""
    flat = Flat.of(out, root="output")
    values: list[Any] = []
    labels: list[str] = []
    for leaf, name in zip(flat.leaves, flat.names, strict=True):
        if is_floating_leaf(leaf):
            values.append(leaf)
            labels.append(name)
        elif isinstance(leaf, jax.Array | np.ndarray) and jnp.iscomplexobj(leaf):
            values += [jnp.real(leaf), jnp.imag(leaf)]
            labels += [f"{name}.real", f"{name}.imag"]
    return values, labels


def _modes(modes: Any) -> tuple[AD, ...]:
    if isinstance(modes, str):
        modes = (modes,)
    expected = "a tuple of 'rev' and/or 'fwd', such as ('rev',) or ('fwd', 'rev')"
    if not isinstance(modes, Iterable):
        raise invalid("modes", expected, describe(modes), "pass modes=('rev',)", kind=TypeError)
    out = tuple(modes)
    if not out or any(m not in ("fwd", "rev") for m in out) or len(set(out)) < len(out):
        raise invalid("modes", expected, describe(out), "pass modes=('rev',) or ('fwd', 'rev')")
    return out


def check_function(
    fn: Callable[..., Any],
    *args: Any,
    order: int = 1,
    modes: Iterable[str] = ("rev",),
    mode: Mode = "auto",
    eps: float | None = None,
    rng: np.random.Generator | int | None = 0,
    samples: int = 10,
    probes: int = 3,
    progress: ProgressFn | None = None,
) -> GradcheckReport:
    """Check the derivatives of ``fn`` (e.g. a ``jax.custom_vjp``/``custom_jvp`` function).

    The counterpart of ``jax.test_util.check_grads(fn, args, order, modes)``, with a verdict, a
    location (argument and element) and a hint. The floating array leaves of ``args`` are
    checked (other arguments pass through unchanged), through the scalar
    ``L = sum_k <R_k, out_k>`` over the floating output leaves, with fixed Gaussian ``R_k``
    drawn from ``rng``; :func:`trainready.gradcheck` differentiates ``L`` numerically, JAX
    analytically:

    - ``"rev"``: ``grad L = J^T R`` by one ``jax.vjp``. With several outputs, also one VJP per
      output (the others unused, so a ``custom_vjp(symbolic_zeros=True)`` backward sees
      symbolic zeros): a path taken only when some outputs have no gradient is checked too,
      and a wrong one is checked alone and named in the first note (``"output c alone ..."``).
    - ``"fwd"``: element i of ``grad L`` is ``<R, J e_i>``, a JVP along the basis vector
      ``e_i`` (``jax.linearize`` once, ``vmap`` over the basis, as ``jax.jacfwd``), so the
      forward rule (a ``custom_jvp``) is judged element by element with the same numerics and
      hints as reverse mode. A single random-direction JVP (what ``check_grads`` compares)
      could not say which element is wrong; the price is N JVPs, fine up to ~1e5 elements.
    - ``order=2``: also the derivative as a function: ``args -> vjp(fn, *args)(R')`` (and
      ``args -> jvp(fn, args, T')`` for ``"fwd"``) with fixed Gaussian ``R'``, ``T'``, checked
      in every mode -- second derivatives through the user's rule, e.g. a ``custom_vjp``
      backward whose own derivative is wrong. Higher orders recurse the same way.

    Args:
        fn: called as ``fn(*args)``; returns an array or a pytree of arrays (a complex output
            is checked as its real and imaginary parts, labelled ``"output.real"`` and
            ``"output.imag"``).
        *args: the arguments; floating array leaves are named ``"arg0"``, ``"arg1"``, ... by
            position, with the pytree path inside an argument (``"arg1/w"``).
        order: 1 (first derivatives) or more.
        modes: ``("rev",)`` (default), ``("fwd",)`` or ``("fwd", "rev")``.
        mode, eps, rng, samples, probes, progress: as in :func:`trainready.gradcheck`.

    Returns:
        A :class:`trainready.GradcheckReport`: with several checks (modes, orders) the first
        wrong one's, its first note naming it and listing every check's verdict;
        ``evaluations`` counts the calls of all checks.

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
    order = check_int(order, "order", minimum=1, example="2")
    ads = _modes(modes)
    flat = Flat.of(tuple(args))
    if not flat.slots:
        raise ValueError(
            "args: expected at least one floating array argument, got none; pass the arrays "
            "to differentiate with respect to (e.g. jnp.ones(3))"
        )
    names = []
    for name in flat.checked:
        head, _, rest = name.partition("/")
        names.append(f"arg{head}" + (f"/{rest}" if rest else ""))
    dtypes = {n: np.asarray(v).dtype for n, v in zip(names, flat.values(), strict=True)}
    gen = as_generator(rng)

    def call(checked: list[Any]) -> list[Any]:
        return _real_outputs(fn(*flat.rebuild(checked)))[0]

    with jax.enable_x64(True):
        x0 = [to_float64(v) for v in flat.values()]
        labels = _real_outputs(fn(*flat.rebuild([to_jax(v) for v in x0])))[1]
        target = Target(call, names, x0, labels)
        options: dict[str, Any] = dict(mode=mode, eps=eps, rng=gen, samples=samples)
        options.update(probes=probes, progress=progress)
        report = combine(check_all(target, order, ads, gen, options))
    return dataclasses.replace(report, notes=report.notes + _float32_note(dtypes))
