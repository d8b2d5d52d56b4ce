"""A two-layer regression network with about a million parameters, for probe mode."""

from __future__ import annotations

import numpy as np


def make_big(
    n_in: int = 1000, n_hidden: int = 1000, m: int = 32, seed: int = 0, activation: str = "tanh"
):
    """About a million parameters (W1 is n_hidden x n_in); tanh (smooth) or relu (kinks)."""
    rng = np.random.default_rng(seed)
    if activation == "tanh":
        act, dact = np.tanh, lambda z, h: 1 - h**2
    elif activation == "relu":
        act, dact = (lambda z: np.maximum(0.0, z)), (lambda z, h: (z > 0).astype(float))
    else:
        raise ValueError(activation)
    X = rng.standard_normal((m, n_in))
    y = rng.standard_normal(m)
    params = {
        "W1": rng.standard_normal((n_hidden, n_in)) / np.sqrt(n_in),
        "b1": 0.1 * rng.standard_normal(n_hidden),
        "W2": rng.standard_normal((1, n_hidden)) / np.sqrt(n_hidden),
        "b2": np.zeros(1),
    }

    def loss(p):
        h = act(X @ p["W1"].T + p["b1"])
        r = (h @ p["W2"].T)[:, 0] + p["b2"][0] - y
        return float(0.5 * np.mean(r**2))

    def grads(p):
        z = X @ p["W1"].T + p["b1"]
        h = act(z)
        r = (h @ p["W2"].T)[:, 0] + p["b2"][0] - y
        dr = r / m
        dh = np.outer(dr, p["W2"][0]) * dact(z, h)
        return {
            "W1": dh.T @ X,
            "b1": dh.sum(0),
            "W2": (dr @ h)[None, :],
            "b2": np.array([dr.sum()]),
        }

    return params, loss, grads


def median_element(g: np.ndarray) -> tuple[int, ...]:
    """Index of the element whose magnitude is the median of the tensor's."""
    flat = np.abs(g).ravel()
    k = int(np.argsort(flat)[flat.size // 2])
    return tuple(int(i) for i in np.unravel_index(k, g.shape))
