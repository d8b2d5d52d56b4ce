"""JAX's own ops through ``tr.jax.check_function``, with ``jax.test_util.check_grads`` as oracle.

The counterpart of ``tests/test_torch_opinfo.py`` for JAX: functions nobody here wrote --
JAX's own op table (``lax_test_util.lax_ops()``, its inputs from each op's own
``rng_factory``), ``jax.nn`` (many ``custom_jvp`` rules), ``jax.scipy.special`` and
``jnp.linalg`` (several with more than one output, so the per-output VJP path runs) -- all in
float64 (``tests/jax_ops_harness.py`` builds them). For every sample, in the same test, JAX's
``check_grads(fn, args, order=1, modes=("rev",))`` runs first; wherever it passes, trainready
must say "ok" and never raise, with default options, with ``modes=("fwd", "rev")`` (every
function here has a JVP rule; run for every lax op and a subset, FWD) and ``order=2`` (a
subset, ORDER2), each against check_grads with the same order and modes. Inside ``make test``
(under 90 s on 2 cores) each op runs on its last sample. Where check_grads fails or cannot differentiate, the reason is written below and
trainready's answer asserted. The printed sweep, with more variants, is
``benchmarks/jax_ops_sweep.py`` (BENCHMARKS.md, "JAX's own ops").
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

jax = pytest.importorskip("jax")

import jax.numpy as jnp  # noqa: E402
from jax.test_util import check_grads  # noqa: E402

import trainready as tr  # noqa: E402
from jax_ops_harness import Case, all_cases, oracle, run_trainready  # noqa: E402

# check_grads cannot differentiate these at all (it raises; the reason is its own error), so
# there is no verdict to agree with: trainready must raise too, never return a verdict.
NO_DERIVATIVE = {
    "lax.nextafter": "JAX defines no differentiation rule for nextafter",
    "lax.is_finite": "a boolean output",
    "lax.eq": "a boolean output",
    "lax.ne": "a boolean output",
    "lax.ge": "a boolean output",
    "lax.gt": "a boolean output",
    "lax.le": "a boolean output",
    "lax.lt": "a boolean output",
    "lax.betainc": "JAX has no derivative with respect to a and b ('Betainc gradient with "
    "respect to a and b not supported')",
}

# check_grads fails on these (seen in the sweep); what trainready says is asserted.
CHECK_GRADS_FAILS = {
    "nn.dot_product_attention": "JAX computes the softmax in float32 even for float64 inputs "
    "(a convert_element_type to f32 in its jaxpr), so the function is float32 inside and "
    "neither side can resolve a float64 derivative",
    "special.spence": "JAX's derivative of spence is NaN at about half of the points in "
    "(0.5, 3) (a NaN gradient where the function is smooth: a JAX bug)",
}

# check_grads' order-2 check raises on these (no rule for the derivative's derivative).
NO_SECOND_DERIVATIVE = {
    "lax.igamma": "igamma_grad_a has no differentiation rule",
    "lax.igammac": "igamma_grad_a has no differentiation rule",
    "special.gammainc": "igamma_grad_a has no differentiation rule",
    "special.gammaincc": "igamma_grad_a has no differentiation rule",
    "special.exp1": "JAX's exp1 derivative is not traceable at order 2 ('No constant handler "
    "for type DynamicJaxprTracer')",
}

# Order 2 runs on this subset (one per kind of rule; the sweep runs every op at order 2).
ORDER2 = {
    "lax.sin",
    "lax.atan2",
    "lax.pow",
    "lax.max",
    "lax.lgamma",
    "lax.complex",
    "nn.relu",
    "nn.gelu(approximate=False)",
    "nn.log_softmax(axis=-1)",
    "special.xlogy",
    "special.log_ndtr",
    "linalg.inv",
    "linalg.slogdet(sign, logabsdet)",
    "linalg.cholesky",
    "linalg.eigh(w, projectors)",
}
# Forward and reverse mode run on every lax op and on these: jax.nn's custom_jvp rules
# (relu ... mish, a jax.custom_jvp in their jaxprs) and a few more (the sweep: every op).
FWD = ORDER2 | {
    "nn.relu6",
    "nn.softplus",
    "nn.log_sigmoid",
    "nn.hard_sigmoid",
    "nn.hard_silu",
    "nn.mish",
    "nn.softmax(axis=-1)",
    "special.erfinv",
    "special.ndtri",
    "special.i1e",
    "linalg.svd(s)",
    "linalg.qr(Q, R)",
}

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    CASES = all_cases()
BY_NAME: dict[str, list[Case]] = {}
for _case in CASES:
    BY_NAME.setdefault(_case.name, []).append(_case)


def test_the_sweep_covers_every_family_and_jaxs_table() -> None:
    families = {c.family for c in CASES}
    assert families == {"lax", "nn", "special", "linalg"}
    from jax_ops_harness import lax_records

    ops = {r.op for r in lax_records()}
    assert len(ops) >= 50  # float64 is in lax_ops()'s dtype lists (x64 read at call time)
    assert {"sin", "atan2", "betainc", "igamma", "lgamma", "complex"} <= ops
    named = (*NO_DERIVATIVE, *CHECK_GRADS_FAILS, *NO_SECOND_DERIVATIVE, *FWD)
    assert all(name in BY_NAME for name in named)


def _agree(
    case: Case, variant: str, options: dict[str, object], order: int, modes: tuple[str, ...]
) -> str:
    """check_grads first; where it passes trainready must say ok. Returns check_grads' result."""
    cg, why = oracle(case, order, modes)
    verdict, summary = run_trainready(case, **options)
    if case.name in NO_DERIVATIVE and variant == "rev":
        assert cg == "raise", f"{case.label}: check_grads now differentiates it: {why}"
        assert verdict == "crash", f"{case.label}: a verdict without a derivative: {summary}"
    elif case.name in CHECK_GRADS_FAILS:
        assert cg == "fail", f"{case.label} {variant}: check_grads now says {cg}"
        assert verdict == "wrong", f"{case.label} {variant}: trainready says {summary}"
    elif order == 2 and case.name in NO_SECOND_DERIVATIVE:
        assert cg == "raise", f"{case.label}: check_grads now differentiates it twice: {why}"
        assert verdict == "crash", f"{case.label}: a verdict without a 2nd derivative: {summary}"
    else:
        assert cg == "pass", f"{case.label} {variant}: check_grads says {cg}: {why}"
        assert verdict == "ok", f"{case.label} {variant}: false alarm: {summary}"
    return cg


@pytest.mark.parametrize("name", sorted(BY_NAME))
def test_trainready_agrees_with_check_grads(name: str) -> None:
    """The op's last sample (shape (3, 4), broadcast against (3, 1) and (1, 4) for lax ops of 2
    and 3 arguments; 4x4 matrices) in reverse mode; forward and reverse mode for every lax op
    and FWD; order 2 for ORDER2. Every sample of every op in every variant (shape (3,) and 3x3
    matrices too, order 2 everywhere) is ``benchmarks/jax_ops_sweep.py`` (about 6 minutes)."""
    case = BY_NAME[name][-1]
    if _agree(case, "rev", {}, 1, ("rev",)) == "raise":
        return  # no derivative: nothing more to check
    if case.family == "lax" or name in FWD:
        _agree(case, "fwd+rev", {"modes": ("fwd", "rev")}, 1, ("fwd", "rev"))
    if name in ORDER2:
        _agree(case, "order2", {"order": 2}, 2, ("rev",))


# ------------------------------------------------------------ regressions found by the sweep


def test_complex_outputs_are_checked_as_real_and_imaginary_parts() -> None:
    """lax.complex, lax.conj of a real input and jnp.fft.rfft return complex arrays; trainready
    refused them ('expected at least one floating array output, got none') where check_grads
    passes. Now a complex output is checked as its real and imaginary parts."""
    x, y = np.linspace(0.1, 1.0, 5), np.linspace(-1.0, 2.0, 5)
    assert tr.jax.check_function(jax.lax.complex, x, y).verdict == "ok"
    assert tr.jax.check_function(jax.lax.conj, x, modes=("fwd", "rev"), order=2).verdict == "ok"
    assert tr.jax.check_function(jnp.fft.rfft, x).verdict == "ok"
    # A wrong rule into the complex plane is still caught, and matches check_grads.
    for factor, expected in ((1.0, "ok"), (1.5, "wrong")):

        @jax.custom_vjp
        def f(a: jax.Array) -> jax.Array:
            return jnp.exp(1j * a)

        def bwd(a: jax.Array, g: jax.Array, k: float = factor) -> tuple[jax.Array]:
            return (k * jnp.real(g * 1j * jnp.exp(1j * a)),)

        f.defvjp(lambda a: (f(a), a), bwd)
        rep = tr.jax.check_function(f, x)
        assert rep.verdict == expected, rep.summary()
        with jax.enable_x64(True):
            if expected == "ok":
                check_grads(f, (jnp.asarray(x),), 1, modes=("rev",))
            else:
                with pytest.raises(AssertionError):
                    check_grads(f, (jnp.asarray(x),), 1, modes=("rev",))
    rep = tr.jax.check_function(lambda a: {"z": jnp.exp(1j * a), "n": jnp.arange(3)}, x)
    assert rep.verdict == "ok"


def test_a_nan_analytic_gradient_is_named_as_nan_not_as_a_zero_numeric_one() -> None:
    """spence's JAX derivative is NaN at x ≈ 1.87; the hint said '(analytic numeric is 0)'
    (the ratio NaN/-0.72 read as a division by zero). Now it says the analytic value is nan."""
    x = np.random.RandomState(0).uniform(0.5, 3.0, (3,))
    rep = tr.jax.check_function(jax.scipy.special.spence, x)
    hint = rep.params["arg0"].hint
    assert rep.verdict == "wrong"
    assert "arg0[0] (analytic is nan)" in hint and "numeric is 0" not in hint
    x = np.random.RandomState(0).uniform(0.5, 3.0, (3, 4))  # the sweep's sample: 6 NaNs
    rep = tr.jax.check_function(jax.scipy.special.spence, x)
    assert "the analytic value is NaN or inf at" in rep.params["arg0"].hint
