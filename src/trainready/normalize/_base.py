"""Shared machinery of the scalers: scikit-learn's estimator contract by duck typing.

scikit-learn is never imported here at module level. ``check_estimator`` (sklearn 1.9) decides
what to run from ``__sklearn_tags__()`` (built lazily below from sklearn's own ``Tags``),
``get_params``/``set_params`` (used by ``clone``) and ``hasattr(est, "transform")``; deriving from
``BaseEstimator`` only changes one ``UserWarning``. So the classes stay plain and
``import trainready`` imports NumPy only.
"""

from __future__ import annotations

import contextlib
import copy as _copy
import inspect
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from .._arrays import all_finite, native_affine, to_numpy
from ..errors import NotFittedError
from ._inputs import (
    InputInfo,
    as_float_array,
    check_flag,
    chunk_data,
    is_array_like,
    is_dask_array,
    is_torch_tensor,
)
from ._kernels import affine
from ._names import check_names, feature_names_out, nonfinite_error

if TYPE_CHECKING:
    from .._persist import State

__all__ = ["ProgressCallback", "ScalerBase"]

ProgressCallback = Callable[[int, int], Any]
"""``progress(chunks_done, samples_seen)``, called after each chunk of an iterable fit."""


class ScalerBase:
    """Base of :class:`StandardScaler` and :class:`MinMaxScaler` (not public)."""

    _PARAMS: ClassVar[tuple[str, ...]] = ()
    _BOOL_PARAMS: ClassVar[tuple[str, ...]] = ()
    nan_policy: str
    axis: int | None
    copy: bool
    n_features_in_: int
    feature_names_in_: NDArray[np.object_]  # only when fitted on string column names

    # ---------------------------------------------------------------- scikit-learn protocol
    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor's parameters, as scikit-learn's ``get_params``."""
        return {name: getattr(self, name) for name in self._PARAMS}

    def set_params(self, **params: Any) -> ScalerBase:
        """Set constructor parameters (validated at fit time, as in scikit-learn)."""
        for key, value in params.items():
            if key not in self._PARAMS:
                raise ValueError(
                    f"Invalid parameter {key!r} for estimator {type(self).__name__}(). "
                    f"Valid parameters are: {sorted(self._PARAMS)!r}."
                )
            setattr(self, key, value)
        return self

    @classmethod
    def _get_param_names(cls) -> list[str]:
        return sorted(cls._PARAMS)

    def __repr__(self) -> str:
        sig = inspect.signature(type(self).__init__)
        parts = []
        for name in self._PARAMS:
            default = sig.parameters[name].default
            value = getattr(self, name)
            if not (value is default or (type(value) is type(default) and value == default)):
                parts.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(parts)})"

    def __sklearn_tags__(self) -> Any:
        """scikit-learn estimator tags (imports sklearn; only sklearn calls this)."""
        from sklearn.utils import InputTags, Tags, TargetTags, TransformerTags

        return Tags(
            estimator_type=None,
            target_tags=TargetTags(required=False),
            transformer_tags=TransformerTags(preserves_dtype=["float64", "float32"]),
            input_tags=InputTags(
                allow_nan=self.nan_policy == "omit", two_d_array=True, sparse=False
            ),
            requires_fit=True,
        )

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "n_features_in_")

    def set_output(self, *, transform: str | None = None) -> ScalerBase:
        """Choose the container ``transform`` returns for array input: "default" or "pandas".

        With "pandas" the result is a DataFrame with ``get_feature_names_out()`` as columns (and
        the input's index when it was a DataFrame). Torch tensors always come back as tensors.
        """
        if transform is None:
            return self
        if transform not in ("default", "pandas"):
            raise ValueError(
                f"set_output(transform=...) expects 'default' or 'pandas'; got {transform!r}."
            )
        self._output = transform
        return self

    # ----------------------------------------------------------------------- validation
    def _validate_params(self) -> None:
        for name in self._BOOL_PARAMS:
            check_flag(getattr(self, name), name)
        if self.nan_policy not in ("raise", "omit"):
            raise ValueError(
                f"nan_policy must be 'raise' or 'omit'; got {self.nan_policy!r}. 'raise' refuses "
                "NaN/inf with the columns named; 'omit' fits around them and keeps them in "
                "transform."
            )
        if self.axis is not None and (
            isinstance(self.axis, bool) or not isinstance(self.axis, int | np.integer)
        ):
            raise TypeError(
                f"axis must be an int (the feature or channel axis) or None; got {self.axis!r}."
            )

    def _check_fitted(self, method: str) -> None:
        if not hasattr(self, "n_features_in_"):
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet; call 'fit' (or "
                f"'partial_fit') with the training data before '{method}'."
            )

    def _validate(self, X: Any, *, reset: bool, method: str) -> tuple[NDArray[Any], int, InputInfo]:
        arr, ax, info = as_float_array(
            X, "X", axis=self.axis, allow_nd=self.axis is not None, estimator=type(self).__name__
        )
        self._check_names(info, reset=reset)
        n_feat = arr.shape[ax]
        if reset:
            self.n_features_in_ = n_feat
        elif n_feat != self.n_features_in_:
            where = "features" if self.axis is None else f"features (channels along axis {ax})"
            raise ValueError(
                f"X has {n_feat} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input ({method}: got {where} in shape "
                f"{arr.shape}). Pass data with the same features as at fit time."
            )
        return arr, ax, info

    def _check_names(self, info: InputInfo, *, reset: bool) -> None:
        check_names(self, info.columns, reset=reset)

    def _nonfinite_error(self, arr: NDArray[Any], ax: int, method: str) -> ValueError:
        return nonfinite_error(self, arr, ax, method)

    # ------------------------------------------------------------------------- fitting
    def _reset(self) -> None:
        for name in list(vars(self)):
            if name.endswith("_") and not name.startswith("__"):
                delattr(self, name)
        self._state: Any = None
        self._warned: frozenset[int] = frozenset()

    def fit(self, X: Any, y: Any = None, *, progress: ProgressCallback | None = None) -> Any:
        """Compute the statistics of the training data, forgetting any previous fit.

        All or nothing: if the fit fails part-way (NaN in a later chunk, a chunk of another
        width, an exception in ``progress``, Ctrl-C), the scaler is left exactly as it was before
        the call (unfitted if it was).

        Args:
            X: ``(n_samples, n_features)`` array-like (NumPy, torch tensor, pandas DataFrame,
                dask array), N-D data with ``axis`` set, or an iterable of such chunks (a
                generator, a torch ``DataLoader`` yielding tensors or ``(x, y)`` tuples).
            y: ignored (scikit-learn's signature).
            progress: called as ``progress(chunks_done, samples_seen)`` after each chunk of an
                iterable (and once for an array).

        Returns:
            self
        """
        self._validate_params()
        if progress is not None and not callable(progress):
            raise TypeError(
                f"progress: expected a callable progress(chunks_done, samples_seen) or None; got "
                f"{type(progress).__name__}. Pass a function, or leave it out."
            )
        with self._all_or_nothing():
            self._reset()
            return self._fit_any(X, progress, warn=True)

    def partial_fit(self, X: Any, y: Any = None) -> Any:
        """Add one chunk (or an iterable of chunks, or a dask array) to the statistics.

        All or nothing: a failed call leaves the statistics of the previous calls unchanged.

        Returns:
            self
        """
        self._validate_params()
        with self._all_or_nothing():
            if getattr(self, "_state", None) is None or not hasattr(self, "n_features_in_"):
                self._reset()
            return self._fit_any(X, None, warn=True)

    @contextlib.contextmanager
    def _all_or_nothing(self) -> Iterator[None]:
        """Restore every attribute (and a copy of the running state) if the body raises."""
        saved = dict(vars(self))
        saved["_state"] = _copy.deepcopy(getattr(self, "_state", None))
        had_state = "_state" in vars(self)
        try:
            yield
        except BaseException:
            vars(self).clear()
            vars(self).update(saved)
            if not had_state:
                del self._state
            raise

    def _fit_any(self, X: Any, progress: ProgressCallback | None, *, warn: bool) -> Any:
        if is_dask_array(X):
            self._fit_dask(X)
        elif is_array_like(X):
            self._fit_chunk(X)
            if progress is not None:
                progress(1, self._samples_seen())
        elif isinstance(X, Iterable):
            done = 0
            for item in X:
                chunk = chunk_data(item)
                if is_dask_array(chunk):
                    self._fit_dask(chunk)
                else:
                    self._fit_chunk(chunk)
                done += 1
                if progress is not None:
                    progress(done, self._samples_seen())
            if done == 0:
                raise ValueError(
                    "X is an empty iterable: fit needs at least one chunk with one sample. Check "
                    "that the generator or DataLoader is not exhausted."
                )
        else:
            raise TypeError(
                f"X must be array-like or an iterable of chunks; got {type(X).__name__}. Pass a "
                "NumPy array, torch tensor, pandas DataFrame, dask array, or a generator/"
                "DataLoader of them."
            )
        self._finalize(warn=warn)
        return self

    def _fit_chunk(self, X: Any) -> None:
        first = getattr(self, "_state", None) is None
        arr, ax, _ = self._validate(X, reset=first, method="fit")
        self._update(arr, ax)

    def _fit_dask(self, X: Any) -> None:
        from ._dask import check_dask_input

        first = getattr(self, "_state", None) is None
        ax = check_dask_input(X, self.axis, type(self).__name__)
        n_feat = X.shape[ax]
        if first:
            if hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
            self.n_features_in_ = n_feat
        elif n_feat != self.n_features_in_:
            raise ValueError(
                f"X has {n_feat} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input."
            )
        self._update_dask(X, ax)

    # hooks
    def _update(self, arr: NDArray[Any], ax: int) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _update_dask(self, X: Any, ax: int) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _finalize(self, *, warn: bool) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _samples_seen(self) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def _affine_params(self, inverse: bool) -> tuple[NDArray[np.float64], NDArray[np.float64], str]:
        raise NotImplementedError  # pragma: no cover

    # ---------------------------------------------------------------------- transforms
    def fit_transform(self, X: Any, y: Any = None, **fit_params: Any) -> Any:
        """``fit(X)`` then ``transform(X)`` (X must be one array, not an iterable)."""
        if not is_array_like(X) or is_dask_array(X):
            raise TypeError(
                "fit_transform needs one in-memory array; for an iterable of chunks or a dask "
                "array call fit(...) and then transform each chunk."
            )
        return self.fit(X, y, **fit_params).transform(X)

    def transform(self, X: Any, copy: bool | None = None) -> Any:
        """Scale ``X`` with the fitted statistics; same container, dtype and device as ``X``.

        Args:
            X: array-like of the training data's feature layout.
            copy: False allows scaling a float NumPy array in place (default: ``self.copy``).

        Returns:
            The scaled data: a NumPy array (or DataFrame with ``set_output(transform="pandas")``),
            or a torch tensor on the input's device for a tensor input.
        """
        return self._apply(X, copy, inverse=False, method="transform")

    def inverse_transform(self, X: Any, copy: bool | None = None) -> Any:
        """Undo :meth:`transform`; same container, dtype and device as ``X``."""
        return self._apply(X, copy, inverse=True, method="inverse_transform")

    def _apply(self, X: Any, copy: bool | None, *, inverse: bool, method: str) -> Any:
        self._check_fitted(method)
        if copy is not None:
            check_flag(copy, "copy")
        copy = self.copy if copy is None else copy
        a, b, mode = self._affine_params(inverse)
        if is_torch_tensor(X):
            return self._apply_torch(X, a, b, mode, method, inverse)
        arr, ax, info = self._validate(X, reset=False, method=method)
        if self.nan_policy == "raise":
            with np.errstate(over="ignore", invalid="ignore"):
                total = np.add.reduce(arr, axis=None)
            if not np.isfinite(total) and not np.isfinite(arr).all():
                raise self._nonfinite_error(arr, ax, method)
        in_place = (
            not copy
            and isinstance(X, np.ndarray)
            and arr is X
            and arr.flags.writeable
            and arr.dtype.kind == "f"
        )
        out = affine(arr, ax, a, b, mode, arr if in_place else None, self._f32_params(inverse))
        if self.clip_output(inverse):
            self._clip(out)
        if getattr(self, "_output", "default") == "pandas":
            from .._optional import require

            pd = require("pandas", "set_output(transform='pandas')")
            if out.ndim != 2:
                raise ValueError("set_output(transform='pandas') needs 2-D data.")
            cols = (
                self.get_feature_names_out()
                if not inverse
                else getattr(self, "feature_names_in_", self.get_feature_names_out())
            )
            return pd.DataFrame(out, columns=list(cols), index=info.index, copy=False)
        return out

    def _f32_params(self, inverse: bool) -> tuple[NDArray[np.float64], ...]:
        raise NotImplementedError  # pragma: no cover

    def clip_output(self, inverse: bool) -> bool:
        return False

    def _clip(self, out: NDArray[Any]) -> None:  # pragma: no cover - MinMaxScaler overrides
        pass

    def _apply_torch(
        self,
        X: Any,
        a: NDArray[np.float64],
        b: NDArray[np.float64],
        mode: str,
        method: str,
        inverse: bool,
    ) -> Any:
        ax = self._torch_axis(X)
        n_feat = X.shape[ax]
        if n_feat != self.n_features_in_:
            raise ValueError(
                f"X has {n_feat} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input ({method}: tensor of shape "
                f"{tuple(X.shape)})."
            )
        if X.is_complex():
            raise ValueError("Complex data not supported: X is a complex tensor.")
        if self.nan_policy == "raise" and not all_finite(X):
            raise self._nonfinite_error(to_numpy(X).astype(np.float64), ax, method)
        clip = None
        if self.clip_output(inverse):
            lo, hi = self.feature_range  # type: ignore[attr-defined]
            clip = (float(lo), float(hi))
        return native_affine(X, a, b, axis=ax, subtract_divide=mode == "sub_div", clip=clip)

    def _torch_axis(self, X: Any) -> int:
        if self.axis is None:
            if X.ndim != 2:
                raise ValueError(
                    f"Expected 2D array, got {X.ndim}D tensor of shape {tuple(X.shape)}. "
                    "Reshape your data, or fit with axis=1 / axis=-1 for per-channel scaling."
                )
            return 1
        ax = int(self.axis) + X.ndim if self.axis < 0 else int(self.axis)
        if not 1 <= ax < X.ndim:
            raise ValueError(
                f"axis={self.axis} is not a feature axis of a tensor of shape {tuple(X.shape)}."
            )
        return ax

    def get_feature_names_out(self, input_features: Any = None) -> NDArray[np.object_]:
        """Output feature names: ``feature_names_in_`` or ``x0, x1, ...`` (one-to-one)."""
        self._check_fitted("get_feature_names_out")
        return feature_names_out(self, input_features)

    # ------------------------------------------------------------------------ persistence
    def to_state(self) -> State:
        """The fitted scaler as a persistence :class:`~trainready._persist.State` (copied)."""
        from ._state import scaler_to_state

        return scaler_to_state(self)

    @classmethod
    def from_state(cls, state: State) -> Any:
        """A scaler from :meth:`to_state`'s output, every field checked (FormatError otherwise).

        Example:
            >>> import numpy as np
            >>> from trainready import StandardScaler
            >>> sc = StandardScaler().fit(np.array([[0.0], [2.0]]))
            >>> StandardScaler.from_state(sc.to_state()).scale_.tolist()
            [1.0]
        """
        from ._state import scaler_from_state

        return scaler_from_state(state, expected=None if cls is ScalerBase else cls)

    def save(self, path: Any) -> None:
        """Write the fitted scaler to ``path`` (``.npz``/``.json``): atomic, bit-exact, no pickle.

        A path without a suffix gets ``.npz``; :meth:`load` with the same path finds it.
        """
        from ._io import save

        save(self, path)

    @classmethod
    def load(cls, path: Any) -> Any:
        """Read a scaler written by :meth:`save`; a file of another class is a FormatError."""
        from ._io import load

        return load(path, expected=cls)
