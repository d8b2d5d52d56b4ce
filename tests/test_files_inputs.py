"""The reference network and the data sets: booleans and numbers are what they say (issue 11,
item 10). Each refusal names the argument, what was expected, what came, and the fix."""

from __future__ import annotations

import numpy as np
import pytest

import trainready as tr
from trainready.nn import MLP

GRAMMAR = r"{arg}: expected .*; got .*\. \S"  # "<argument>: expected <what>; got <value>. <fix>"


@pytest.mark.parametrize(
    ("kwargs", "arg", "exc"),
    [
        ({"batch_norm": "yes"}, "batch_norm", TypeError),
        ({"batch_norm": [True, "no"]}, "batch_norm", TypeError),
        ({"batch_norm": 1}, "batch_norm", TypeError),
        ({"init_scale": True}, "init_scale", TypeError),
        ({"init_scale": -1.0}, "init_scale", ValueError),
        ({"init_scale": float("nan")}, "init_scale", ValueError),
        ({"init_scale": "0.1"}, "init_scale", TypeError),
        ({"dtype": "abc"}, "dtype", TypeError),
    ],
)
def test_constructor_arguments(kwargs, arg, exc):
    with pytest.raises(exc, match=GRAMMAR.format(arg=arg)):
        MLP([2, 3, 4, 1], **kwargs)


def test_constructor_accepts_numpy_scalars_and_bools():
    net = MLP([2, 3, 1], batch_norm=np.bool_(True), init_scale=np.float32(0.1), init="random")
    assert net.batch_norm == (True,)


@pytest.mark.parametrize(
    ("kwargs", "arg", "exc"),
    [
        ({"lr": True}, "lr", TypeError),  # was: trained at lr 1
        ({"lr": "0.1"}, "lr", TypeError),
        ({"lr": 0}, "lr", ValueError),
        ({"lr": float("inf")}, "lr", ValueError),
        ({"epochs": 2.5}, "epochs", TypeError),
        ({"epochs": True}, "epochs", TypeError),
        ({"epochs": -1}, "epochs", ValueError),
        ({"batch_size": True}, "batch_size", TypeError),
        ({"batch_size": 0}, "batch_size", ValueError),
        ({"batch_size": 8.0}, "batch_size", TypeError),
        ({"callback": 3}, "callback", TypeError),
        ({"check_options": ["probe"]}, "check_options", TypeError),
    ],
)
def test_fit_arguments(kwargs, arg, exc):
    data = tr.datasets.circles(40, 10, rng=0)
    net = MLP([2, 3, 1], rng=0)
    before = {k: v.copy() for k, v in net.params.items()}
    with pytest.raises(exc, match=GRAMMAR.format(arg=arg)):
        net.fit(data.X_train, data.y_train, **kwargs)
    for k, v in net.params.items():  # nothing trained
        np.testing.assert_array_equal(v, before[k])


def test_fit_accepts_numpy_numbers():
    data = tr.datasets.circles(40, 10, rng=0)
    hist = MLP([2, 3, 1], rng=0).fit(
        data.X_train, data.y_train, lr=np.float64(0.1), epochs=np.int64(3), batch_size=np.int32(8)
    )
    assert hist.epochs == 3 and hist.batch_size == 8


@pytest.mark.parametrize(
    ("call", "arg"),
    [
        (lambda: tr.datasets.moons(noise=True), "noise"),
        (lambda: tr.datasets.circles(n_train=True), "n_train"),
        (lambda: tr.datasets.circles(n_train=10.0), "n_train"),
        (lambda: tr.datasets.circles(factor=True), "factor"),
        (lambda: tr.datasets.spirals(n_classes=np.bool_(True)), "n_classes"),
        (lambda: tr.datasets.blobs(spread=float("inf")), "spread"),
        (lambda: tr.datasets.digits(test_fraction=False), "test_fraction"),
    ],
)
def test_dataset_arguments(call, arg):
    with pytest.raises(ValueError, match=GRAMMAR.format(arg=arg)):
        call()
