"""JAX's own ops as checked functions, with ``jax.test_util.check_grads`` as the oracle.

Shared by ``tests/test_jax_ops.py`` (every sample, inside ``make test``) and
``benchmarks/jax_ops_sweep.py`` (the same samples plus more shapes, printed as a table).
Four families, all in float64 (inside ``jax.enable_x64(True)``):

- ``lax``: JAX's own op table, ``jax._src.internal_test_util.lax_test_util.lax_ops()``, each op
  whose dtypes include float64, with inputs from its own ``rng_factory`` at shapes from
  ``lax_test_util.compatible_shapes``; an op ``check_grads`` cannot differentiate (a boolean
  or integer output, no JVP rule) is skipped with check_grads' own error as the reason;
- ``nn``: ``jax.nn``'s activations and friends (many are ``custom_jvp`` rules);
- ``special``: ``jax.scipy.special`` with inputs inside each function's domain;
- ``linalg``: ``jnp.linalg`` (inv, det, slogdet, cholesky, eigh, svd, solve, qr), several of
  them with more than one output.

Nothing here was written against trainready: the functions are JAX's, the inputs are JAX's
own test generators (or, for the families JAX has no table for, plain Gaussians moved into the
function's domain), the verdict to agree with is JAX's own ``check_grads``.
"""

from __future__ import annotations

import itertools
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.test_util import check_grads

__all__ = ["Case", "all_cases", "iter_variants", "lax_records", "oracle", "run_trainready"]

SHAPES = ((3,), (3, 4))  # two of lax_test_util.compatible_shapes' groups: [(3,)], [(3,4), ...]


@dataclass
class Case:
    family: str
    name: str  # the op, e.g. "lax.sin" or "nn.gelu(approximate=False)"
    shape: tuple[int, ...]  # the first argument's shape
    fn: Callable[..., Any]
    args: tuple[np.ndarray, ...]
    fwd: bool = True  # has a JVP rule (every function here: no custom_vjp among them)

    @property
    def label(self) -> str:
        return f"{self.name}{list(self.shape)}"


def oracle(case: Case, order: int = 1, modes: tuple[str, ...] = ("rev",)) -> tuple[str, str]:
    """``check_grads(fn, args, order, modes)`` in float64: ("pass", ""), ("fail", the first line
    of its AssertionError) or ("raise", the exception: check_grads cannot differentiate the
    function this way, e.g. a boolean output, no JVP rule, no second-derivative rule)."""
    with jax.enable_x64(True):
        args = tuple(jnp.asarray(a, jnp.float64) for a in case.args)
        try:
            check_grads(case.fn, args, order=order, modes=modes)
        except AssertionError as exc:
            return "fail", (str(exc).strip().splitlines() or ["AssertionError"])[0][:200]
        except Exception as exc:
            line = (str(exc).strip().splitlines() or [""])[0]
            return "raise", f"check_grads raises {type(exc).__name__}: {line[:160]}"
    return "pass", ""


# ------------------------------------------------------------------------------------ lax


def lax_records() -> list[Any]:
    """``lax_ops()`` with float64 in its dtype lists. The lists are module globals of
    ``lax_test_util`` computed at import from ``test_util.dtypes`` (cached properties that drop
    float64 when x64 is off); a fresh ``_LazyDtypes`` read inside ``enable_x64`` gives the
    x64 lists, patched in for the one call and restored after."""
    from jax._src import test_util as jtu
    from jax._src.internal_test_util import lax_test_util as ltu

    names = {
        "float_dtypes": "all_floating",
        "complex_elem_dtypes": "floating",
        "complex_dtypes": "complex",
        "inexact_dtypes": "all_inexact",
        "int_dtypes": "all_integer",
        "uint_dtypes": "all_unsigned",
        "bool_dtypes": "boolean",
    }
    saved = {g: getattr(ltu, g) for g in (*names, "default_dtypes", "number_dtypes", "all_dtypes")}
    try:
        with jax.enable_x64(True):
            fresh = jtu._LazyDtypes()
            for glob, prop in names.items():
                setattr(ltu, glob, list(getattr(fresh, prop)))
            ltu.default_dtypes = ltu.float_dtypes + ltu.int_dtypes
            ltu.number_dtypes = (
                ltu.float_dtypes + ltu.complex_dtypes + ltu.int_dtypes + ltu.uint_dtypes
            )
            ltu.all_dtypes = ltu.number_dtypes + ltu.bool_dtypes
            records = ltu.lax_ops()
    finally:
        for glob, value in saved.items():
            setattr(ltu, glob, value)
    return [r for r in records if any(np.dtype(d) == np.float64 for d in r.dtypes)]


def _lax_shapes(nargs: int) -> list[tuple[tuple[int, ...], ...]]:
    from jax._src.internal_test_util import lax_test_util as ltu

    out = []
    for group in ltu.compatible_shapes:
        if group[0] in SHAPES:
            out.append(tuple(itertools.islice(itertools.cycle(group), nargs)))
    return out


def lax_cases() -> list[Case]:
    cases = []
    for rec in lax_records():
        fn = getattr(jax.lax, rec.op)
        name = f"lax.{rec.op}"
        for shapes in _lax_shapes(rec.nargs):
            rng = rec.rng_factory(np.random.RandomState(0))
            with jax.enable_x64(True):
                args = tuple(np.asarray(rng(s, np.float64)) for s in shapes)
            cases.append(Case("lax", name, shapes[0], fn, args))
    return cases


# ------------------------------------------------------------------------------- jax.nn


def _gauss(shape: tuple[int, ...], seed: int = 0, scale: float = 3.0) -> np.ndarray:
    return np.random.RandomState(seed).randn(*shape) * scale  # rand_default's distribution


def _nn_functions() -> dict[str, Callable[..., Any]]:
    nn = jax.nn
    fns: dict[str, Callable[..., Any]] = {}
    plain = [
        "relu",
        "relu6",
        "elu",
        "celu",
        "selu",
        "silu",
        "swish",
        "softplus",
        "soft_sign",
        "sigmoid",
        "log_sigmoid",
        "hard_sigmoid",
        "hard_silu",
        "hard_tanh",
        "leaky_relu",
        "mish",
        "sparse_plus",
        "sparse_sigmoid",
        "squareplus",
        "tanh",
    ]
    for n in plain:
        if hasattr(nn, n):
            fns[n] = getattr(nn, n)
    fns["gelu(approximate=True)"] = lambda x: nn.gelu(x, approximate=True)
    fns["gelu(approximate=False)"] = lambda x: nn.gelu(x, approximate=False)
    fns["softmax(axis=-1)"] = lambda x: nn.softmax(x, axis=-1)
    fns["log_softmax(axis=-1)"] = lambda x: nn.log_softmax(x, axis=-1)
    fns["logsumexp(axis=-1)"] = lambda x: nn.logsumexp(x, axis=-1)
    fns["logsumexp"] = nn.logsumexp
    fns["glu(axis=0)"] = lambda x: nn.glu(jnp.concatenate([x, x[::-1] * 0.5 + 0.1], axis=0), 0)
    if hasattr(nn, "standardize"):
        fns["standardize(axis=-1)"] = lambda x: nn.standardize(x, axis=-1)
    if hasattr(nn, "dot_product_attention"):
        fns["dot_product_attention"] = _attention
    return fns


def _attention(x: Any) -> Any:
    """Self-attention of a (T, D) sequence: q = x, k = 0.5 x, v = x^2 (batch 1, 1 head)."""
    q = x.reshape(1, x.shape[0], 1, -1)
    return jax.nn.dot_product_attention(q, 0.5 * q, q**2)


def nn_cases() -> list[Case]:
    cases = []
    for name, fn in _nn_functions().items():
        for shape in SHAPES:
            if name == "dot_product_attention" and len(shape) < 2:
                continue
            args = (_gauss(shape, seed=len(name)),)
            cases.append(Case("nn", f"nn.{name}", shape, fn, args))
    return cases


# ------------------------------------------------------------------- jax.scipy.special


def _special() -> list[tuple[str, Callable[..., Any], Callable[[np.random.RandomState, Any], Any]]]:
    """(name, function, inputs(rng, shape) -> args) with every input inside the domain."""
    sp = jax.scipy.special
    unit = lambda r, s: (r.uniform(0.05, 0.95, s),)  # noqa: E731  (0, 1)
    pos = lambda r, s: (r.uniform(0.5, 3.0, s),)  # noqa: E731
    real = lambda r, s: (r.randn(*s) * 2.0,)  # noqa: E731
    sym = lambda r, s: (r.uniform(-0.9, 0.9, s),)  # noqa: E731  (-1, 1)
    two_pos = lambda r, s: (r.uniform(0.5, 3.0, s), r.uniform(0.5, 3.0, s))  # noqa: E731
    out = [
        ("erf", sp.erf, real),
        ("erfc", sp.erfc, real),
        ("erfinv", sp.erfinv, sym),
        ("expit", sp.expit, real),
        ("logit", sp.logit, unit),
        ("gammaln", sp.gammaln, pos),
        ("digamma", sp.digamma, pos),
        ("xlogy", sp.xlogy, lambda r, s: (r.randn(*s), r.uniform(0.5, 3.0, s))),
        ("xlog1py", sp.xlog1py, lambda r, s: (r.randn(*s), r.uniform(-0.5, 2.0, s))),
        ("entr", sp.entr, pos),
        ("logsumexp", sp.logsumexp, real),
        ("ndtr", sp.ndtr, real),
        ("ndtri", sp.ndtri, unit),
        ("log_ndtr", sp.log_ndtr, lambda r, s: (r.uniform(-8.0, 4.0, s),)),
        ("i0e", sp.i0e, real),
        ("i1e", sp.i1e, real),
        ("i0", sp.i0, real),
        ("i1", sp.i1, real),
        ("betaln", sp.betaln, two_pos),
        ("gamma", sp.gamma, pos),
        ("rel_entr", sp.rel_entr, two_pos),
        ("kl_div", sp.kl_div, two_pos),
        (
            "multigammaln(d=2)",
            lambda a: sp.multigammaln(a, 2),
            lambda r, s: (r.uniform(1.0, 4.0, s),),
        ),
        ("polygamma(1)", lambda x: sp.polygamma(1, x), pos),
        ("zeta(q)", lambda q: sp.zeta(3.0, q), pos),
        ("gammainc", sp.gammainc, two_pos),
        ("gammaincc", sp.gammaincc, two_pos),
        ("spence", sp.spence, pos),
        ("expi", sp.expi, pos),
        ("exp1", sp.exp1, pos),
        ("sinc(jnp)", jnp.sinc, real),
        ("log_softmax", jax.scipy.special.log_softmax, real),
        ("softmax", jax.scipy.special.softmax, real),
    ]
    return [(n, f, a) for n, f, a in out]


def special_cases() -> list[Case]:
    cases = []
    for name, fn, inputs in _special():
        for shape in SHAPES:
            args = tuple(np.asarray(a, np.float64) for a in inputs(np.random.RandomState(0), shape))
            cases.append(Case("special", f"special.{name}", shape, fn, args))
    return cases


# ---------------------------------------------------------------------------- linalg


def _spd(rng: np.random.RandomState, n: int) -> np.ndarray:
    a = rng.randn(n, n)
    return a @ a.T + n * np.eye(n)


def _sym_distinct(rng: np.random.RandomState, n: int) -> np.ndarray:
    """A symmetric matrix with eigenvalues 1, 2, ..., n (well separated)."""
    q, _ = np.linalg.qr(rng.randn(n, n))
    return (q * np.arange(1.0, n + 1)) @ q.T


def _well_conditioned(rng: np.random.RandomState, n: int, m: int | None = None) -> np.ndarray:
    m = n if m is None else m
    return rng.randn(n, m) + 3.0 * np.eye(n, m)


def _sym(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` of the symmetric part: eigh/cholesky read one triangle, so a numeric step on one
    off-diagonal element would not be a step along the symmetric matrices the rule assumes."""
    return lambda a: fn((a + a.T) / 2)


def _eigh_vectors(a: Any) -> Any:
    """The eigenvalues and a gauge-invariant function of the eigenvectors (the sign of each
    ``v_k`` cancels): the projectors ``v_k v_k^T``, weighted by k so they do not sum to I."""
    w, v = jnp.linalg.eigh(a)
    proj = jnp.einsum("ik,jk,k->ij", v, v, jnp.arange(1.0, v.shape[1] + 1))
    return w, proj


def _qr_r(a: Any) -> Any:
    """R with a positive diagonal (the sign of each row fixed by R's own diagonal)."""
    _, r = jnp.linalg.qr(a)
    return r * jnp.sign(jnp.diagonal(r))[:, None]


def _linalg() -> list[tuple[str, Callable[..., Any], Callable[[np.random.RandomState, int], Any]]]:
    la = jnp.linalg
    return [
        ("inv", la.inv, lambda r, n: (_well_conditioned(r, n),)),
        ("det", la.det, lambda r, n: (_well_conditioned(r, n),)),
        ("slogdet", lambda a: tuple(la.slogdet(a))[1], lambda r, n: (_well_conditioned(r, n),)),
        (
            "slogdet(sign, logabsdet)",
            lambda a: tuple(la.slogdet(a)),
            lambda r, n: (_well_conditioned(r, n),),
        ),
        ("cholesky", _sym(la.cholesky), lambda r, n: (_spd(r, n),)),
        ("eigh(w, projectors)", _sym(_eigh_vectors), lambda r, n: (_sym_distinct(r, n),)),
        ("eigvalsh", _sym(la.eigvalsh), lambda r, n: (_sym_distinct(r, n),)),
        (
            "svd(s)",
            lambda a: la.svd(a, compute_uv=False),
            lambda r, n: (_well_conditioned(r, n, n + 1),),
        ),
        ("solve", la.solve, lambda r, n: (_well_conditioned(r, n), r.randn(n, 2))),
        ("qr(R, positive diagonal)", _qr_r, lambda r, n: (_well_conditioned(r, n + 1, n),)),
        ("qr(Q, R)", lambda a: tuple(la.qr(a)), lambda r, n: (_well_conditioned(r, n + 1, n),)),
        ("pinv", la.pinv, lambda r, n: (_well_conditioned(r, n, n + 1),)),
        ("norm(fro)", la.norm, lambda r, n: (_well_conditioned(r, n),)),
        ("matrix_power(3)", lambda a: la.matrix_power(a, 3), lambda r, n: (r.randn(n, n),)),
        ("expm", jax.scipy.linalg.expm, lambda r, n: (r.randn(n, n) * 0.5,)),
    ]


def linalg_cases() -> list[Case]:
    cases = []
    for name, fn, inputs in _linalg():
        for n in (3, 4):
            args = tuple(np.asarray(a, np.float64) for a in inputs(np.random.RandomState(n), n))
            cases.append(Case("linalg", f"linalg.{name}", args[0].shape, fn, args))
    return cases


def all_cases() -> list[Case]:
    return lax_cases() + nn_cases() + special_cases() + linalg_cases()


def run_trainready(case: Case, **options: Any) -> tuple[str, str]:
    """``tr.jax.check_function(case.fn, *case.args, **options)``: (verdict, summary), or
    ("crash", the traceback's last line) if it raises."""
    import trainready as tr

    try:
        rep = tr.jax.check_function(case.fn, *case.args, **options)
    except Exception as exc:  # a crash is a finding, recorded not raised
        tb = traceback.format_exception_only(type(exc), exc)[-1].strip()
        return "crash", tb[:300]
    return rep.verdict, rep.summary()


def iter_variants(
    case: Case, order2: bool
) -> Iterator[tuple[str, dict[str, Any], tuple[int, tuple[str, ...]]]]:
    """(variant, trainready options, (order, modes) for check_grads) for one case."""
    yield "rev", {}, (1, ("rev",))
    if case.fwd:
        yield "fwd+rev", {"modes": ("fwd", "rev")}, (1, ("fwd", "rev"))
    if order2:
        yield "order2", {"order": 2}, (2, ("rev",))
