"""StandardScaler and MinMaxScaler: scikit-learn's contract, exact streaming statistics."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from ..errors import ConstantFeatureWarning
from ._base import ScalerBase
from ._inputs import warn_user
from ._kernels import split_hi_lo
from ._moments import RunningMoments
from ._names import feature_labels

__all__ = ["MinMaxScaler", "StandardScaler"]

_EPS = float(np.finfo(np.float64).eps)


def _counts_attr(n: NDArray[np.float64]) -> Any:
    """scikit-learn's ``n_samples_seen_``: one int64 when every feature saw as many values."""
    counts = n.astype(np.int64)
    if counts.size and counts.max() == counts.min():
        return counts[0]
    return counts


def constant_bound(mean: NDArray[np.float64]) -> NDArray[np.float64]:
    """The largest variance a feature with this mean can have and still count as constant.

    ``(eps * |mean|)**2``: a spread below one unit in the last place of the mean. Derivation:
    :class:`RunningMoments` subtracts a float64 shift ``K`` near the data, and ``x - K`` is
    exact (Sterbenz: ``x`` and ``K`` lie within a factor 2); the sums of ``x - K`` and its
    squares are then formed with relative error at most about ``n * eps`` and recomputed around
    the chunk's own mean whenever cancellation could cost more than one bit (``S2 > 2 m2``).
    The variance is therefore computed with a *relative* error of order ``n * eps`` (< 1e-6
    even at n = 1e9), with no absolute term that grows with ``n`` or the offset: a truly
    constant feature comes out with a variance of exactly 0 (its ``x - K`` are equal multiples
    of one ulp, summed exactly) and a feature with any spread keeps it. What remains is the
    data's own resolution: values near ``mean`` are spaced about ``eps * |mean|`` apart, so a
    smaller spread is rounding, not signal. scikit-learn's bound ``n eps var + (n mean eps)**2``
    describes a naive sum instead and grows with ``n``: 4e6 rows of N(1e9, 0.25) would be
    called constant.

    Example:
        >>> float(constant_bound(np.array([1e9]))[0]) < 1e-13
        True
    """
    with np.errstate(over="ignore", invalid="ignore"):
        return np.asarray((_EPS * np.abs(mean)) ** 2, dtype=np.float64)


def _refuse_overflow(scaler: ScalerBase, bad: NDArray[np.bool_], what: str, why: str) -> None:
    idx = np.flatnonzero(bad)
    if idx.size:
        raise ValueError(
            f"X: expected a per-feature {what} below the float64 maximum (1.8e308); got an "
            f"overflow in feature(s) {feature_labels(scaler, idx)} ({why}), which would map "
            "every value to the same number. Rescale those features first (e.g. divide them by "
            "1e300)."
        )


class StandardScaler(ScalerBase):
    """Standardize features: ``z = (x - mean_) / scale_``, with exact streaming statistics.

    The statistics are float64 whatever the input dtype: per chunk a shifted float64 pass (a
    second pass when a chunk drifts), merged across chunks with Chan, Golub & LeVeque (1979, 1983).
    The variance stays within about 1e-15 (relative) of the exact value even at a mean offset of
    1e9, where scikit-learn is ~1e-10 off and raw sums of squares lose every digit. A
    (near-)constant feature, one whose spread is below the resolution of its mean (the bound
    ``var <= (eps * mean)**2`` of :func:`constant_bound`, which matches this algorithm's own
    error), gets ``scale_ = 1`` and a :class:`ConstantFeatureWarning` naming it.

    Args:
        with_mean: center the data (``mean_`` is computed whenever ``with_mean`` or ``with_std``).
        with_std: scale to unit variance.
        axis: None for ``(n_samples, n_features)``; otherwise the feature (channel) axis of N-D
            data, e.g. ``1`` for ``(N, C, H, W)`` or ``-1`` for ``(N, H, W, C)``: statistics are
            then per channel over samples and pixels.
        copy: False lets ``transform`` work in place on a float NumPy array.
        nan_policy: "raise" (NaN/inf is a ValueError naming the features and counts) or "omit"
            (ignored in fit, passed through by transform, as scikit-learn does).

    Attributes:
        mean_: ``(n_features,)`` float64 mean (None when ``with_mean`` and ``with_std`` are False).
        var_: ``(n_features,)`` float64 population variance, ddof 0 (None without ``with_std``).
        scale_: ``(n_features,)`` float64 ``sqrt(var_)``, 1 for constant features (None without
            ``with_std``).
        n_samples_seen_: values per feature seen (an int, or an int array when NaNs were omitted).
        n_features_in_: number of features (channels).
        feature_names_in_: column names of a DataFrame fitted on.

    Example:
        >>> import numpy as np
        >>> sc = StandardScaler().fit(np.array([[0.0, 10.0], [2.0, 30.0]]))
        >>> sc.mean_.tolist(), sc.scale_.tolist()
        ([1.0, 20.0], [1.0, 10.0])
        >>> sc.transform(np.array([[1.0, 40.0]])).tolist()
        [[0.0, 2.0]]
    """

    _PARAMS: ClassVar[tuple[str, ...]] = ("with_mean", "with_std", "axis", "copy", "nan_policy")
    _BOOL_PARAMS: ClassVar[tuple[str, ...]] = ("with_mean", "with_std", "copy")

    def __init__(
        self,
        *,
        with_mean: bool = True,
        with_std: bool = True,
        axis: int | None = None,
        copy: bool = True,
        nan_policy: str = "raise",
    ) -> None:
        self.with_mean = with_mean
        self.with_std = with_std
        self.axis = axis
        self.copy = copy
        self.nan_policy = nan_policy

    def _update(self, arr: NDArray[Any], ax: int) -> None:
        state: RunningMoments | None = self._state
        if state is None:
            state = RunningMoments.empty(arr.shape[ax])
        if not state.update(arr, ax, omit=self.nan_policy == "omit"):
            raise self._nonfinite_error(arr, ax, "fit")
        self._state = state

    def _update_dask(self, X: Any, ax: int) -> None:
        from ._dask import dask_moments

        part = dask_moments(X, ax, omit=self.nan_policy == "omit")
        if isinstance(part, ValueError):
            raise part
        state: RunningMoments | None = self._state
        if state is None:
            state = RunningMoments.empty(X.shape[ax])
        state.merge_moments(part)
        self._state = state

    def _samples_seen(self) -> int:
        state: RunningMoments | None = self._state
        return 0 if state is None else int(state.n.max(initial=0))

    @property
    def moments(self) -> RunningMoments:
        """The exact running moments behind the attributes (a copy)."""
        self._check_fitted("moments")
        state: RunningMoments = self._state
        return state.copy()

    def _finalize(self, *, warn: bool) -> None:
        state: RunningMoments = self._state
        self.n_samples_seen_ = _counts_attr(state.n)
        if not self.with_mean and not self.with_std:
            self.mean_ = None
            self.var_ = None
            self.scale_ = None
            return
        mean = state.mean
        self.mean_ = mean
        if not self.with_std:
            self.var_ = None
            self.scale_ = None
            return
        var = state.var
        _refuse_overflow(
            self, np.isinf(var), "sum of squared deviations", "its values are too far apart"
        )
        self.var_ = var
        with np.errstate(invalid="ignore", over="ignore"):
            constant = (var <= constant_bound(mean)) | (state.n == 1)
            scale = np.sqrt(var)
        scale = np.where(constant | (scale == 0), 1.0, scale)
        self.scale_ = scale
        idx = np.flatnonzero(constant & (state.n > 0))
        if warn and idx.size and frozenset(idx.tolist()) != self._warned:
            self._warned = frozenset(idx.tolist())
            warn_user(
                f"{idx.size} feature(s) are constant in the data seen so far: "
                f"{feature_labels(self, idx)}; their scale_ is set to 1 (they become 0 after "
                "centering). Drop them if they stay constant: they carry no information.",
                ConstantFeatureWarning,
            )

    def _affine_params(self, inverse: bool) -> tuple[NDArray[np.float64], NDArray[np.float64], str]:
        n = self.n_features_in_
        a = self.mean_ if (self.with_mean and self.mean_ is not None) else np.zeros(n)
        b = self.scale_ if (self.with_std and self.scale_ is not None) else np.ones(n)
        return (
            np.asarray(a, np.float64),
            np.asarray(b, np.float64),
            ("mul_add" if inverse else "sub_div"),
        )

    def _f32_params(self, inverse: bool) -> tuple[NDArray[np.float64], ...]:
        m, s, _ = self._affine_params(False)
        hi, lo = split_hi_lo(m)
        zero = np.zeros_like(m)
        if inverse:  # x = (z * s + lo) + hi
            return zero, s, lo, hi
        return hi, 1.0 / s, -lo / s, zero  # z = (x - hi) / s - lo / s

    def to_torchvision(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """``(mean, std)`` as tuples of floats for ``torchvision.transforms.Normalize(mean, std)``.

        Fit with ``axis=1`` on ``(N, C, H, W)`` tensors (after ``ToTensor``, i.e. in [0, 1]) to
        get per-channel values; the std is the pooled one (mean of per-batch variances plus the
        variance of the batch means), not the mean of per-image stds.

        Example:
            >>> import numpy as np
            >>> X = np.stack([np.zeros((2, 2, 2)), np.ones((2, 2, 2))])  # (N=2, C=2, H=2, W=2)
            >>> StandardScaler(axis=1).fit(X).to_torchvision()
            ((0.5, 0.5), (0.5, 0.5))
        """
        self._check_fitted("to_torchvision")
        if self.mean_ is None or self.scale_ is None:
            raise ValueError(
                "to_torchvision needs mean_ and scale_; fit with with_mean=True and with_std=True."
            )
        return tuple(float(v) for v in self.mean_), tuple(float(v) for v in self.scale_)

    @property
    def normalize_params(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """Same as :meth:`to_torchvision`: the ``(mean, std)`` pair of ``transforms.Normalize``."""
        return self.to_torchvision()


class MinMaxScaler(ScalerBase):
    """Scale each feature to ``feature_range``: ``z = x * scale_ + min_``.

    Args:
        feature_range: ``(low, high)`` of the output, ``low < high``.
        clip: clip transformed values to ``feature_range`` (held-out data beyond the training
            range).
        axis: None for 2-D data, or the channel axis of N-D data (see :class:`StandardScaler`).
        copy: False lets ``transform`` work in place on a float NumPy array.
        nan_policy: "raise" or "omit" (NaN/inf ignored in fit, passed through by transform).

    Attributes:
        data_min_, data_max_: ``(n_features,)`` float64 per-feature minimum and maximum seen.
        data_range_: ``data_max_ - data_min_``.
        scale_: ``(high - low) / data_range_`` (a zero range counts as 1, with a
            :class:`ConstantFeatureWarning`).
        min_: ``low - data_min_ * scale_``.
        n_samples_seen_: rows seen (2-D), or values per channel (N-D).
        n_features_in_, feature_names_in_: as in scikit-learn.

    Example:
        >>> import numpy as np
        >>> mm = MinMaxScaler(feature_range=(-1, 1))
        >>> mm.fit_transform(np.array([[0.0], [5.0], [10.0]])).ravel().tolist()
        [-1.0, 0.0, 1.0]
    """

    _PARAMS: ClassVar[tuple[str, ...]] = ("feature_range", "clip", "axis", "copy", "nan_policy")
    _BOOL_PARAMS: ClassVar[tuple[str, ...]] = ("clip", "copy")

    def __init__(
        self,
        feature_range: tuple[float, float] = (0, 1),
        *,
        clip: bool = False,
        axis: int | None = None,
        copy: bool = True,
        nan_policy: str = "raise",
    ) -> None:
        self.feature_range = feature_range
        self.clip = clip
        self.axis = axis
        self.copy = copy
        self.nan_policy = nan_policy

    def _validate_params(self) -> None:
        super()._validate_params()
        fr = self.feature_range
        pair = isinstance(fr, tuple | list | np.ndarray) and len(fr) == 2
        if not pair or any(
            isinstance(v, bool | np.bool_)
            or not isinstance(v, int | float | np.integer | np.floating)
            for v in fr
        ):
            raise ValueError(
                f"feature_range: expected a pair (low, high) of numbers; got {fr!r}. Pass e.g. "
                "feature_range=(0, 1) or (-1, 1)."
            )
        lo, hi = (float(v) for v in fr)
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise ValueError(
                f"feature_range: expected finite bounds; got {tuple(fr)!r} (an infinite bound maps "
                "every value to inf or NaN). Pass finite numbers, e.g. (0, 1)."
            )
        if not lo < hi:
            raise ValueError(
                "Minimum of desired feature range must be smaller than maximum. Got "
                f"{tuple(fr)!r}; pass feature_range=(low, high) with low < high, e.g. (0, 1)."
            )

    def _update(self, arr: NDArray[Any], ax: int) -> None:
        others = tuple(i for i in range(arr.ndim) if i != ax)
        omit = self.nan_policy == "omit"
        with np.errstate(invalid="ignore"):
            mn = np.minimum.reduce(arr, axis=others).astype(np.float64)
            mx = np.maximum.reduce(arr, axis=others).astype(np.float64)
        if not (np.isfinite(mn).all() and np.isfinite(mx).all()):
            if not omit:
                raise self._nonfinite_error(arr, ax, "fit")
            fin = np.isfinite(arr)
            mn = np.where(fin, arr, np.inf).min(axis=others).astype(np.float64)
            mx = np.where(fin, arr, -np.inf).max(axis=others).astype(np.float64)
            none = ~fin.any(axis=others)
            mn[none] = np.nan
            mx[none] = np.nan
        self._merge(mn, mx, arr.size // arr.shape[ax])

    def _merge(self, mn: NDArray[np.float64], mx: NDArray[np.float64], n: int) -> None:
        state = self._state
        if state is None:
            self._state = [mn, mx, n]
        else:
            state[0] = np.fmin(state[0], mn)
            state[1] = np.fmax(state[1], mx)
            state[2] += n

    def _update_dask(self, X: Any, ax: int) -> None:
        from ._dask import dask_minmax

        res = dask_minmax(X, ax, omit=self.nan_policy == "omit")
        if isinstance(res, ValueError):
            raise res
        mn, mx, n = res
        self._merge(mn, mx, n)

    def _samples_seen(self) -> int:
        return 0 if self._state is None else int(self._state[2])

    def _finalize(self, *, warn: bool) -> None:
        mn, mx, n = self._state
        lo, hi = (float(v) for v in self.feature_range)
        self.n_samples_seen_ = int(n)
        self.data_min_ = mn.copy()
        self.data_max_ = mx.copy()
        with np.errstate(over="ignore", invalid="ignore"):
            rng = mx - mn
        _refuse_overflow(self, np.isinf(rng), "range (max - min)", "it spans more than 1.8e308")
        self.data_range_ = rng
        constant = rng < 10 * _EPS
        self.scale_ = (hi - lo) / np.where(constant, 1.0, rng)
        self.min_ = lo - mn * self.scale_
        idx = np.flatnonzero(constant)
        if warn and idx.size and frozenset(idx.tolist()) != self._warned:
            self._warned = frozenset(idx.tolist())
            warn_user(
                f"{idx.size} feature(s) have a zero range in the data seen so far: "
                f"{feature_labels(self, idx)}; their range is taken as 1 (they map to "
                f"{lo} + (x - data_min_)). Drop them if they stay constant.",
                ConstantFeatureWarning,
            )

    def _affine_params(self, inverse: bool) -> tuple[NDArray[np.float64], NDArray[np.float64], str]:
        return self.min_, self.scale_, ("sub_div" if inverse else "mul_add")

    def _f32_params(self, inverse: bool) -> tuple[NDArray[np.float64], ...]:
        lo_r = float(self.feature_range[0])
        d, k = self.data_min_, self.scale_
        hi, lo = split_hi_lo(d)
        zero = np.zeros_like(d)
        if inverse:  # x = (z - low) / k + lo + hi
            return np.full_like(d, lo_r), 1.0 / k, lo, hi
        return hi, k, lo_r - lo * k, zero  # z = (x - hi) * k + (low - lo * k)

    def clip_output(self, inverse: bool) -> bool:
        return bool(self.clip) and not inverse

    def _clip(self, out: NDArray[Any]) -> None:
        lo, hi = self.feature_range
        np.clip(out, lo, hi, out=out)
