"""Hostile inputs per surface and what trainready does with them: the table of RELIABILITY.md.

Surfaces: saved scaler and network files (single-bit flips, crafted malicious files), saves that
fail part-way (file-size limit and Ctrl-C at random byte counts), scaler fits that fail
mid-stream, and arguments of the scalers, the network, its fit and the data sets. Only public API
is used (``save``/``load``/``fit``/attributes), so the same battery runs on an older version: with
``--baseline COMMIT`` it is run a second time on that commit's ``src`` (extracted with ``git
archive``) in a subprocess, and the table gets a column for it. The process runs under an address
space limit (3 GiB) so that a bomb ends in MemoryError instead of swapping.

Run (about a minute; writes RELIABILITY.md's table between its markers):
    .venv/bin/python benchmarks/reliability.py --baseline 190e813 --write RELIABILITY.md
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import signal
import tempfile
import warnings
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from _baseline import run_at_commit

BEGIN, END = "<!-- reliability:begin -->", "<!-- reliability:end -->"
Outcome = str
Results = dict[str, Counter[Outcome]]


# ----------------------------------------------------------------------------- helpers
def classify(fn: Callable[[], Any], ok: Callable[[Any], Outcome]) -> Outcome:
    import trainready as tr

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value = fn()
    except tr.errors.FormatError:
        return "FormatError"
    except MemoryError:
        return "MemoryError (defect)"
    except (FileNotFoundError, IsADirectoryError):
        return "FileNotFoundError"
    except (ValueError, TypeError) as exc:
        return (
            "clear error"
            if ": expected" in str(exc) or "must" in str(exc)
            else (f"{type(exc).__name__} (vague)")
        )
    except Exception as exc:
        return f"{type(exc).__name__} (defect)"
    return ok(value)


def fingerprint(obj: Any) -> bytes:
    """Public fitted attributes / parameters of a loaded object, as bytes."""
    names = (
        "mean_",
        "var_",
        "scale_",
        "n_samples_seen_",
        "n_features_in_",
        "data_min_",
        "data_max_",
        "data_range_",
        "min_",
        "feature_range",
        "with_mean",
        "with_std",
    )
    parts = [repr(type(obj).__name__).encode()]
    if hasattr(obj, "params"):
        parts += [k.encode() + np.asarray(v).tobytes() for k, v in sorted(obj.params.items())]
        parts += [k.encode() + np.asarray(v).tobytes() for k, v in sorted(obj.buffers.items())]
        parts.append(repr(obj).encode())
    for n in names:
        if hasattr(obj, n):
            v = getattr(obj, n)
            parts.append(n.encode() + (np.asarray(v).tobytes() if v is not None else b"None"))
    return b"|".join(parts)


def objects() -> dict[str, Any]:
    import trainready as tr

    rng = np.random.default_rng(0)
    X = rng.normal(3.0, 2.0, size=(60, 3))
    net = tr.nn.MLP([3, 5, 2], output="softmax", batch_norm=True, rng=0)
    net.fit(X, (X[:, 0] > 3).astype(int), lr=0.05, epochs=2)
    return {
        "StandardScaler": tr.StandardScaler().fit(X),
        "MinMaxScaler": tr.MinMaxScaler().fit(X),
        "MLP": net,
    }


def reseal(doc: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    """Give an edited file a matching checksum where the format has one (a careless writer)."""
    if "sha256" not in doc:
        return
    from trainready import _persist

    header = {k: v for k, v in doc.items() if k not in ("arrays", "sha256")}
    doc["sha256"] = _persist.checksum(header, arrays)


# -------------------------------------------------------------------------- file surfaces
def bit_flips(folder: Path, results: Results) -> None:
    rng = np.random.default_rng(0)
    for name, obj in objects().items():
        for ext in ("npz", "json") if name != "MLP" else ("npz",):
            good = folder / f"good_{name}.{ext}"
            obj.save(good)
            raw = good.read_bytes()
            want = fingerprint(type(obj).load(good))
            key = f"{'network' if name == 'MLP' else 'scaler'} files: single-bit flips"
            for i in rng.choice(len(raw), size=min(150, len(raw)), replace=False):
                b = bytearray(raw)
                b[int(i)] ^= 1 << int(rng.integers(8))
                bad = folder / f"bad.{ext}"
                bad.write_bytes(bytes(b))
                out = classify(
                    lambda p=bad, o=obj: type(o).load(p),
                    lambda v, w=want: (
                        "loads identical"
                        if fingerprint(v) == w
                        else "loads different numbers (defect)"
                    ),
                )
                results.setdefault(key, Counter())[out] += 1


def _npy(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, arr, allow_pickle=True)
    return buf.getvalue()


def _npy_header(text: str) -> bytes:
    body = text.encode("latin1")
    body += b" " * (64 - (10 + len(body) + 1) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(body).to_bytes(2, "little") + body


def _zip(path: Path, members: dict[str, bytes], deflate: dict[str, int] | None = None) -> None:
    with zipfile.ZipFile(path, "w", allowZip64=True) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        for name, n in (deflate or {}).items():
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            with zf.open(info, "w", force_zip64=True) as fh:
                chunk = bytes(1 << 22)
                for _ in range(n >> 22):
                    fh.write(chunk)


def scaler_json_cases() -> Iterator[tuple[str, Callable[[dict[str, Any]], None]]]:
    def arr(key: str, i: int, v: Any) -> Callable[[dict[str, Any]], None]:
        return lambda d: d["arrays"][key]["data"].__setitem__(i, v)

    yield (
        "dtype S1000000000",
        lambda d: d["arrays"]["mean_"].update(dtype="S1000000000", data=["x"] * 3),
    )
    yield "complex mean_", lambda d: d["arrays"]["mean_"].update(dtype="complex128")
    yield "str mean_", lambda d: d["arrays"]["mean_"].update(dtype="<U3", data=["a"] * 3)
    yield "bool mean_", lambda d: d["arrays"]["mean_"].update(dtype="bool", data=[True] * 3)
    yield "object mean_", lambda d: d["arrays"]["mean_"].update(dtype="object")
    for v in (0.0, -1.0, "inf"):
        yield f"scale_ {v}", arr("scale_", 0, v)
    yield "NaN mean", arr("mean_", 1, "nan")
    yield "negative count", arr("_state_n", 0, -5.0)
    yield "fractional n_features_in_", lambda d: d["attributes"].update(n_features_in_=2.5)
    yield "n_features_in_ 1e12", lambda d: d["attributes"].update(n_features_in_=10**12)
    yield "shape (1e12,)", lambda d: d["arrays"]["mean_"].update(shape=[10**12])
    yield "version -1", lambda d: d.update(version=-1)
    yield "missing version", lambda d: d.pop("version")
    yield "with_mean 'no'", lambda d: d["params"].update(with_mean="no")
    yield "class os.system", lambda d: d.update({"class": "os.system"})
    yield "params a list", lambda d: d.update(params=[1, 2])


def crafted_files(folder: Path, results: Results) -> None:
    import trainready as tr

    objs = objects()
    sc, net = objs["StandardScaler"], objs["MLP"]
    key = "scaler files: crafted malicious"
    sc.save(folder / "s.json")
    good = json.loads((folder / "s.json").read_text())
    for _, edit in scaler_json_cases():
        doc = json.loads(json.dumps(good))
        try:
            edit(doc)
            arrays = {
                k: np.array(
                    [float(x) if isinstance(x, str) else x for x in e["data"]], dtype=e["dtype"]
                ).reshape(e["shape"])
                for k, e in doc.get("arrays", {}).items()
            }
            reseal(doc, arrays)
        except Exception:
            pass
        (folder / "e.json").write_text(json.dumps(doc))
        out = classify(
            lambda: tr.StandardScaler.load(folder / "e.json"), lambda v: "loaded silently (defect)"
        )
        results.setdefault(key, Counter())[out] += 1
    text_cases = [
        "[" * 100_000 + "]" * 100_000,
        (folder / "s.json")
        .read_text()
        .replace('"n_features_in_": 3', '"n_features_in_": ' + "9" * 5000),
        (folder / "s.json").read_text().replace('"version": ', '"version": 1e400, "v": '),
    ]
    for text in text_cases:
        (folder / "e.json").write_text(text)
        out = classify(
            lambda: tr.StandardScaler.load(folder / "e.json"), lambda v: "loaded silently (defect)"
        )
        results[key][out] += 1
    # npz: a bomb member, impossible npy headers, an object array
    sc.save(folder / "s.npz")
    with zipfile.ZipFile(folder / "s.npz") as zf:
        members = {i.filename: zf.read(i) for i in zf.infolist()}
    npz_cases = {
        "extra member decompressing to 1 GiB": (members, {"extra.npy": 1 << 30}),
        "npy shape (1e12,)": (
            dict(
                members,
                **{
                    "mean_.npy": _npy_header(
                        "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000,), }"
                    )
                },
            ),
            None,
        ),
        "object mean_": (
            dict(members, **{"mean_.npy": _npy(np.array([1, "a", None], dtype=object))}),
            None,
        ),
        "complex mean_": (dict(members, **{"mean_.npy": _npy(np.ones(3, complex))}), None),
    }
    for members_, deflate in npz_cases.values():
        _zip(folder / "e.npz", members_, deflate)
        out = classify(
            lambda: tr.StandardScaler.load(folder / "e.npz"), lambda v: "loaded silently (defect)"
        )
        results[key][out] += 1
    # networks
    key = "network files: crafted malicious"
    net.save(folder / "m.npz")
    with zipfile.ZipFile(folder / "m.npz") as zf:
        members = {i.filename: zf.read(i) for i in zf.infolist()}
    head_name = "__header__.npy" if "__header__.npy" in members else "config.npy"
    for edit in (
        lambda c: c.update(layer_dims=[5, 3e8, 3]),
        lambda c: c.update(layer_dims=[3, 300_000_000, 2]),
        lambda c: c.update(batch_norm=["yes"]),
        lambda c: c.update(l2=-1.0),
        lambda c: c.update(dtype="float16"),
        lambda c: c.update(activations=["__import__"]),
    ):
        doc = json.loads(str(np.load(io.BytesIO(members[head_name]))[()]))
        edit(doc["config"] if "config" in doc else doc)
        _zip(folder / "e.npz", dict(members, **{head_name: _npy(np.asarray(json.dumps(doc)))}))
        out = classify(
            lambda: tr.nn.MLP.load(folder / "e.npz"), lambda v: "loaded silently (defect)"
        )
        results.setdefault(key, Counter())[out] += 1
    for bad in (np.array([np.nan, 1, 1, 1, 1]), np.array([-1.0, 1, 1, 1, 1])):
        name = "buffer/running_var1.npy"
        m = dict(members, **{name: _npy(bad)})
        if "__header__.npy" in m:
            doc = json.loads(str(np.load(io.BytesIO(m["__header__.npy"]))[()]))
            arrays = {k[:-4]: np.load(io.BytesIO(v)) for k, v in m.items() if k != "__header__.npy"}
            reseal(doc, arrays)
            m["__header__.npy"] = _npy(np.asarray(json.dumps(doc)))
        _zip(folder / "e.npz", m)
        out = classify(
            lambda: tr.nn.MLP.load(folder / "e.npz"), lambda v: "loaded silently (defect)"
        )
        results[key][out] += 1
    key = "one path: save('model') then load('model')"
    for obj in objs.values():
        obj.save(folder / "model")
        out = classify(lambda o=obj: type(o).load(folder / "model"), lambda v: "round-trips")
        results.setdefault(key, Counter())[
            out if out != "FileNotFoundError" else "not found (defect)"
        ] += 1
        for p in folder.glob("model*"):
            p.unlink()


def failed_saves(folder: Path, results: Results) -> None:
    import trainready as tr

    rng = np.random.default_rng(1)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)

    armed = [False]

    def interrupt(signum: int, frame: Any) -> None:
        if armed[0]:  # one Ctrl-C per save, never after it
            armed[0] = False
            raise KeyboardInterrupt

    signal.signal(signal.SIGXFSZ, interrupt)
    for name, new in objects().items():
        old = (
            tr.StandardScaler().fit(rng.normal(size=(9, 3)))
            if name != "MLP"
            else tr.nn.MLP([3, 5, 2], output="softmax", batch_norm=True, rng=9)
        )
        if name == "MinMaxScaler":
            old = tr.MinMaxScaler().fit(rng.normal(size=(9, 3)))
        for ext in ("npz", "json") if name != "MLP" else ("npz",):
            target = folder / f"save_{name}.{ext}"
            new.save(target)
            size = target.stat().st_size
            for k in range(20):
                old.save(target)
                before = target.read_bytes()
                limit = int(rng.integers(0, size))
                try:
                    try:
                        armed[0] = bool(k % 2)
                        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
                        new.save(target)
                    finally:
                        armed[0] = False
                        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
                except (Exception, KeyboardInterrupt):
                    pass
                intact = target.exists() and target.read_bytes() == before
                debris = sorted(p.name for p in folder.iterdir() if ".tmp" in p.name)
                for p in folder.iterdir():
                    if ".tmp" in p.name:
                        p.unlink()
                out = (
                    "old file intact, no debris"
                    if intact and not debris
                    else "old file destroyed (defect)"
                    if not intact
                    else "debris left (defect)"
                )
                results.setdefault("saves failing part-way (EFBIG or Ctrl-C)", Counter())[out] += 1
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


# --------------------------------------------------------------------------- input surfaces
def _state(sc: Any) -> bytes:
    return fingerprint(sc) + repr(sorted(k for k in vars(sc) if k.endswith("_"))).encode()


def failed_fits(results: Results) -> None:
    import trainready as tr

    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(100, 3)), rng.normal(size=(50, 3))
    nan = b.copy()
    nan[3, 1] = np.nan

    def ctrl_c() -> Iterator[np.ndarray]:
        yield a
        raise KeyboardInterrupt

    streams: list[Callable[[], Any]] = [
        lambda: iter([a, nan]),
        lambda: iter([a, rng.normal(size=(5, 4))]),
        ctrl_c,
    ]
    for cls in (tr.StandardScaler, tr.MinMaxScaler):
        for fitted in (False, True):
            for method in ("fit", "partial_fit"):
                for stream in streams:
                    sc = cls()
                    if fitted:
                        sc.fit(rng.normal(size=(30, 3)))
                    before = _state(sc)
                    try:
                        getattr(sc, method)(stream())
                    except (ValueError, KeyboardInterrupt):
                        pass
                    out = "state unchanged" if _state(sc) == before else "half-fitted (defect)"
                    results.setdefault("scaler fit failing mid-stream", Counter())[out] += 1


def arguments(results: Results) -> None:
    import trainready as tr

    X = np.random.default_rng(3).normal(size=(40, 2))
    y = (X[:, 0] > 0).astype(int)
    silent = "silently accepted (defect)"
    cases: dict[str, list[Callable[[], Any]]] = {
        "scaler arguments": [
            lambda: tr.StandardScaler(with_mean="no").fit(X),
            lambda: tr.StandardScaler(with_std="no").fit(X),
            lambda: tr.StandardScaler(copy="no").fit(X),
            lambda: tr.StandardScaler().fit(X).transform(X, copy="no"),
            lambda: tr.MinMaxScaler(clip="yes").fit(X),
            lambda: tr.MinMaxScaler(feature_range=(0, np.inf)).fit(X),
            lambda: tr.MinMaxScaler(feature_range=(-np.inf, 0)).fit(X),
            lambda: tr.MinMaxScaler(feature_range=("0", "1")).fit(X),
            lambda: tr.MinMaxScaler().fit(np.array([[-1.5e308], [1.5e308]])),
            lambda: tr.StandardScaler().fit(np.array([[0.0], [1.4e154]] * 10)),
        ],
        "network and fit arguments": [
            lambda: tr.nn.MLP([2, 3, 1], batch_norm="yes"),
            lambda: tr.nn.MLP([2, 3, 1], init_scale=True),
            lambda: tr.nn.MLP([2, 3, 1], dtype="abc"),
            lambda: tr.nn.MLP([2, 3, 1], rng=0).fit(X, y, lr=True, epochs=1),
            lambda: tr.nn.MLP([2, 3, 1], rng=0).fit(X, y, lr="0.1", epochs=1),
            lambda: tr.nn.MLP([2, 3, 1], rng=0).fit(X, y, epochs=1, batch_size=True),
            lambda: tr.nn.MLP([2, 3, 1], rng=0).fit(X, y, epochs=2.5),
            lambda: tr.nn.MLP([2, 3, 1], rng=0).fit(X, y, epochs=1, callback=3),
        ],
        "data set arguments": [
            lambda: tr.datasets.moons(noise=True),
            lambda: tr.datasets.circles(n_train=True),
            lambda: tr.datasets.circles(factor=True),
            lambda: tr.datasets.blobs(spread=float("inf")),
        ],
    }
    for key, fns in cases.items():
        for fn in fns:
            results.setdefault(key, Counter())[classify(fn, lambda v: silent)] += 1
    key = "constant-feature test (4e6 rows of N(1e9, 0.25); a constant one)"
    rows = (1e9 + 0.25 * np.random.default_rng(4).standard_normal((200_000, 1)) for _ in range(20))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sc = tr.StandardScaler().fit(rows)
        const = tr.StandardScaler().fit(np.full((4_000_000, 1), 1e9 + 0.5)).scale_[0]
    results.setdefault(key, Counter())[
        "spread kept" if sc.scale_[0] != 1.0 else "called constant (defect)"
    ] += 1
    results[key]["constant found" if const == 1.0 else "constant missed (defect)"] += 1


SURFACES = [bit_flips, crafted_files, failed_saves]


def run_all() -> Results:
    resource.setrlimit(resource.RLIMIT_AS, (3 << 30, resource.getrlimit(resource.RLIMIT_AS)[1]))
    results: Results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for surface in SURFACES:
            folder = Path(tmp) / surface.__name__
            folder.mkdir()
            surface(folder, results)
    failed_fits(results)
    arguments(results)
    return results


def baseline(commit: str) -> Results:
    return {k: Counter(v) for k, v in run_at_commit(commit, __file__).items()}


def table(now: Results, then: Results | None, commit: str | None) -> str:
    def cell(c: Counter[str] | None) -> str:
        if not c:
            return "not run"
        return "; ".join(f"{n} {k}" for k, n in c.most_common())

    head = "| surface | inputs | this version |" + (f" at {commit} |" if then else "")
    rule = "|---|---|---|" + ("---|" if then else "")
    rows = [head, rule]
    for key, c in now.items():
        row = f"| {key} | {sum(c.values())} | {cell(c)} |"
        if then is not None:
            row += f" {cell(then.get(key))} |"
        rows.append(row)
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", help="a commit to run the same battery on, for comparison")
    ap.add_argument("--write", type=Path, help="replace the table between the markers here")
    ap.add_argument("--json", action="store_true", help="print raw counts as JSON")
    args = ap.parse_args()
    now = run_all()
    if args.json:
        print(json.dumps(now))
        return
    then = baseline(args.baseline) if args.baseline else None
    text = table(now, then, args.baseline)
    print(text)
    if args.write:
        doc = args.write.read_text()
        start, end = doc.index(BEGIN) + len(BEGIN), doc.index(END)
        args.write.write_text(doc[:start] + "\n" + text + "\n" + doc[end:])


if __name__ == "__main__":
    main()
