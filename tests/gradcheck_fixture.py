"""A hand-written 3-layer network (ReLU, ReLU, sigmoid, mean cross-entropy + L2) and its
backward pass, with switches that inject the classic backprop bugs. Independent of
trainready.nn on purpose: the checker is tested on code it did not write."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

LAMBDA = 0.7
DIMS = (4, 5, 5, 1)  # W2 is square, so a transposed dW2 keeps its shape

BUGS = (
    "factor2_dW1",
    "factor4_db2",
    "sign_dW3",
    "missing_l2_dW2",
    "transposed_dW2",
    "one_element_dW1",
    "zero_db1",
)


def make_problem(
    seed: int = 0, m: int = 20
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, DIMS[0]))
    y = (rng.random(m) < 0.5).astype(float)
    params = {}
    for l in range(1, len(DIMS)):
        params[f"W{l}"] = rng.standard_normal((DIMS[l], DIMS[l - 1])) * np.sqrt(2 / DIMS[l - 1])
        params[f"b{l}"] = rng.standard_normal(DIMS[l]) * 0.1
    return params, X, y


def cost(p: dict[str, np.ndarray], X: np.ndarray, y: np.ndarray) -> float:
    m = X.shape[0]
    a1 = np.maximum(0, X @ p["W1"].T + p["b1"])
    a2 = np.maximum(0, a1 @ p["W2"].T + p["b2"])
    z3 = (a2 @ p["W3"].T + p["b3"])[:, 0]
    # stable binary cross-entropy from the logit
    ce = np.mean(np.logaddexp(0, z3) - y * z3)
    l2 = LAMBDA / (2 * m) * sum(np.sum(p[f"W{l}"] ** 2) for l in (1, 2, 3))
    return float(ce + l2)


def backward(
    p: dict[str, np.ndarray], X: np.ndarray, y: np.ndarray, bug: str | None = None
) -> dict[str, np.ndarray]:
    m = X.shape[0]
    z1 = X @ p["W1"].T + p["b1"]
    a1 = np.maximum(0, z1)
    z2 = a1 @ p["W2"].T + p["b2"]
    a2 = np.maximum(0, z2)
    z3 = a2 @ p["W3"].T + p["b3"]
    a3 = 1 / (1 + np.exp(-z3))
    dz3 = (a3 - y[:, None]) / m
    g = {"dW3": dz3.T @ a2 + LAMBDA / m * p["W3"], "db3": dz3.sum(0)}
    dz2 = (dz3 @ p["W3"]) * (z2 > 0)
    dW2 = dz2.T @ a1
    g["dW2"] = dW2 if bug == "missing_l2_dW2" else dW2 + LAMBDA / m * p["W2"]
    g["db2"] = dz2.sum(0)
    dz1 = (dz2 @ p["W2"]) * (z1 > 0)
    g["dW1"] = dz1.T @ X + LAMBDA / m * p["W1"]
    g["db1"] = dz1.sum(0)
    if bug == "factor2_dW1":
        g["dW1"] = 2 * g["dW1"]
    elif bug == "factor4_db2":
        g["db2"] = 4 * g["db2"]
    elif bug == "sign_dW3":
        g["dW3"] = -g["dW3"]
    elif bug == "missing_l2_dW2":
        pass  # handled above
    elif bug == "transposed_dW2":
        g["dW2"] = g["dW2"].T.copy()
    elif bug == "one_element_dW1":
        g["dW1"] = g["dW1"].copy()
        g["dW1"][2, 1] *= 1.01
    elif bug == "zero_db1":
        g["db1"] = np.zeros_like(g["db1"])
    elif bug is not None:
        raise ValueError(bug)
    return g


def loss_and_grads(
    X: np.ndarray, y: np.ndarray, bug: str | None = None
) -> tuple[Callable[[dict[str, np.ndarray]], float], Callable[[dict[str, np.ndarray]], dict]]:
    return (lambda p: cost(p, X, y)), (lambda p: backward(p, X, y, bug))
