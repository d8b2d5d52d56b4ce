"""Bombs and impossible sizes: crafted by hand, refused with a FormatError before allocating.

Every file here is small on disk and claims (or decompresses to) far more. The loader must answer
FormatError — never MemoryError — and Python's peak allocation while it does (tracemalloc sees
NumPy's buffers too) must stay far below the claimed size.
"""

from __future__ import annotations

import io
import json
import tracemalloc
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.lib import format as npformat

from trainready import _persist
from trainready.errors import FormatError
from trainready.nn import MLP
from trainready.normalize import StandardScaler

PEAK_LIMIT = 32 << 20  # bytes; every claim below is at least 8x larger


def npy_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    npformat.write_array(buf, arr, allow_pickle=False)
    return buf.getvalue()


def npy_header(header_text: str) -> bytes:
    """An .npy version-1 header with any text (data left out)."""
    body = header_text.encode("latin1")
    pad = 64 - (10 + len(body) + 1) % 64
    body += b" " * pad + b"\n"
    return b"\x93NUMPY\x01\x00" + len(body).to_bytes(2, "little") + body


def members_of(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}


def write_zip(
    path: Path,
    members: dict[str, bytes | Callable[[Any], None]],
    deflate: frozenset[str] = frozenset(),
) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, content in members.items():
            method = zipfile.ZIP_DEFLATED if name in deflate else zipfile.ZIP_STORED
            if callable(content):
                info = zipfile.ZipInfo(name)
                info.compress_type = method
                with zf.open(info, "w", force_zip64=True) as fh:
                    content(fh)
            else:
                zf.writestr(name, content, compress_type=method)


def header_of(members: dict[str, bytes]) -> dict[str, Any]:
    return json.loads(str(np.load(io.BytesIO(members["__header__.npy"]))[()]))


def with_header(members: dict[str, bytes], edit: Callable[[dict[str, Any]], None]) -> None:
    doc = header_of(members)
    edit(doc)
    members["__header__.npy"] = npy_bytes(np.asarray(json.dumps(doc)))


def refused(load: Callable[[], Any], match: str) -> None:
    tracemalloc.start()
    try:
        with pytest.raises(FormatError, match=match):
            load()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < PEAK_LIMIT, f"peak allocation {peak / 2**20:.0f} MiB while refusing"


def zeros_stream(n_bytes: int) -> Callable[[Any], None]:
    def write(fh: Any) -> None:
        chunk = bytes(1 << 22)
        for _ in range(n_bytes // len(chunk)):
            fh.write(chunk)

    return write


@pytest.fixture(scope="module")
def scaler_npz(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    path = tmp_path_factory.mktemp("s") / "s.npz"
    StandardScaler().fit(np.random.default_rng(0).normal(size=(20, 3))).save(path)
    return members_of(path)


def test_an_extra_member_that_decompresses_to_gigabytes_is_not_read(tmp_path, scaler_npz):
    # a real bomb: 256 MiB of zeros deflated to ~250 kB, beside the expected members
    bomb = dict(scaler_npz, **{"extra.npy": zeros_stream(256 << 20)})
    write_zip(tmp_path / "bomb.npz", bomb, deflate=frozenset({"extra.npy"}))
    assert (tmp_path / "bomb.npz").stat().st_size < 2 << 20
    refused(lambda: StandardScaler.load(tmp_path / "bomb.npz"), "decompression bomb|unexpected")


def test_an_expected_member_that_decompresses_to_gigabytes_is_not_read(tmp_path, scaler_npz):
    bomb = dict(scaler_npz, **{"_state_m2.npy": zeros_stream(256 << 20)})
    write_zip(tmp_path / "bomb.npz", bomb, deflate=frozenset({"_state_m2.npy"}))
    refused(lambda: StandardScaler.load(tmp_path / "bomb.npz"), "decompression bomb")


def test_an_expected_member_larger_than_its_config_allows_is_refused(tmp_path, scaler_npz):
    # stored (not compressed): 40 MB of an array where the config allows 3 float64
    big = dict(scaler_npz, **{"mean_.npy": npy_bytes(np.zeros(5_000_000))})
    write_zip(tmp_path / "big.npz", big)
    refused(lambda: StandardScaler.load(tmp_path / "big.npz"), "configuration allows")


@pytest.mark.parametrize(
    ("header", "match"),
    [
        ("{'descr': '<f8', 'fortran_order': False, 'shape': (1e12,), }", "not a readable .npy"),
        ("{'descr': '<f8', 'fortran_order': False, 'shape': (10**12,), }", "not a readable .npy"),
        ("{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000,), }", "shape"),
        ("{'descr': '|S1000000000', 'fortran_order': False, 'shape': (3,), }", "dtype"),
        ("{'descr': '|O', 'fortran_order': False, 'shape': (3,), }", "objects are never"),
        ("{'descr': '<c16', 'fortran_order': False, 'shape': (3,), }", "dtype"),
        ("{'descr': '>f8', 'fortran_order': False, 'shape': (3,), }", "dtype"),
        ("{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (3,), }", "dtype"),
        ("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", "does not hold"),
    ],
)
def test_npy_headers_that_claim_too_much_are_refused(tmp_path, scaler_npz, header, match):
    bad = dict(scaler_npz, **{"mean_.npy": npy_header(header)})
    write_zip(tmp_path / "bad.npz", bad)
    refused(lambda: StandardScaler.load(tmp_path / "bad.npz"), match)


def test_a_config_claiming_billions_of_features_is_refused_before_allocating(tmp_path, scaler_npz):
    n = 2**31 - 1  # the largest count the format allows: 16 GiB per array
    bad = dict(scaler_npz)
    with_header(bad, lambda d: d["attributes"].update(n_features_in_=n))
    for key in ("mean_", "var_", "scale_", "_state_n", "_state_shift", "_state_mean", "_state_m2"):
        bad[f"{key}.npy"] = npy_header(
            f"{{'descr': '<f8', 'fortran_order': False, 'shape': ({n},), }}"
        )
    write_zip(tmp_path / "bad.npz", bad)
    refused(lambda: StandardScaler.load(tmp_path / "bad.npz"), "claims 17179869176 bytes")
    with_header(bad, lambda d: d["attributes"].update(n_features_in_=10**12))
    write_zip(tmp_path / "bad.npz", bad)
    refused(lambda: StandardScaler.load(tmp_path / "bad.npz"), "n_features_in_")


def test_a_header_member_claiming_gigabytes_is_refused(tmp_path, scaler_npz):
    bad = dict(
        scaler_npz,
        **{
            "__header__.npy": npy_header(
                "{'descr': '<U100000000', 'fortran_order': False, 'shape': (), }"
            )
        },
    )
    write_zip(tmp_path / "bad.npz", bad)
    refused(lambda: StandardScaler.load(tmp_path / "bad.npz"), "claims 400000000 bytes")


def test_duplicate_and_too_many_members(tmp_path, scaler_npz):
    with zipfile.ZipFile(tmp_path / "dup.npz", "w") as zf:
        for name, content in scaler_npz.items():
            zf.writestr(name, content)
        with pytest.warns(UserWarning, match="Duplicate name"):
            zf.writestr("mean_.npy", scaler_npz["mean_.npy"])
    refused(lambda: StandardScaler.load(tmp_path / "dup.npz"), "twice")


@pytest.mark.parametrize(
    ("dims", "match"),
    [
        ([5, 3e8, 3], "layer_dims"),
        ([5, 300_000_000, 3], "layer_dims"),
        ([5, 2**24, 3], "claims|shape"),
        ([2**24] * 3, "parameters"),
    ],
)
def test_network_configs_of_impossible_size(tmp_path, dims, match):
    path = tmp_path / "m.npz"
    MLP([5, 4, 3], rng=0).save(path)
    members = members_of(path)
    with_header(members, lambda d: d["config"].update(layer_dims=dims))
    if dims == [5, 2**24, 3]:  # headers matching the config, data left out
        members["param/W1.npy"] = npy_header(
            f"{{'descr': '<f8', 'fortran_order': False, 'shape': ({2**24}, 5), }}"
        )
    write_zip(path, members)
    refused(lambda: MLP.load(path), match)


def test_version_1_network_with_a_bomb_config(tmp_path):
    src = Path(__file__).parent / "data" / "v1_mlp.npz"
    members = members_of(src)
    members["config.npy"] = npy_bytes(
        np.asarray(
            json.dumps(
                {
                    "layer_dims": [5, 3e8, 3],
                    "activations": ["tanh"],
                    "output": "softmax",
                    "l2": 0.0,
                    "keep_prob": [1.0],
                    "batch_norm": [False],
                    "dtype": "float64",
                }
            )
        )
    )
    write_zip(tmp_path / "v1.npz", members)
    refused(lambda: MLP.load(tmp_path / "v1.npz"), "layer_dims")


def test_a_json_file_beyond_the_limit_is_not_parsed(tmp_path, monkeypatch):
    monkeypatch.setattr(_persist, "MAX_JSON_BYTES", 4096)
    (tmp_path / "big.json").write_text('{"format": "trainready.scaler", "x": "' + "a" * 5000 + '"}')
    refused(lambda: StandardScaler.load(tmp_path / "big.json"), "at most 4096 bytes")
