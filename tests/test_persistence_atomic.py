"""Atomic saves: a save that fails part-way leaves the old file byte-identical and no debris.

Failures are real: a file-size limit (``resource.setrlimit(RLIMIT_FSIZE)``) in a subprocess makes
the kernel refuse the write at a chosen byte count (``EFBIG``), and with a ``SIGXFSZ`` handler
that raises ``KeyboardInterrupt`` the same byte count becomes a Ctrl-C in the middle of a write.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trainready.nn import MLP
from trainready.normalize import MinMaxScaler, StandardScaler

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE is POSIX")

SRC = str(Path(__file__).resolve().parents[1] / "src")

SCRIPT = r"""
import json, os, resource, signal, sys
from pathlib import Path
import numpy as np
import trainready as tr

folder, kind, plan = Path(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])
what, ext = kind.split(".")

def make(seed):
    X = np.random.default_rng(seed).normal(seed, 1.0, size=(50, 4))
    if what == "scaler":
        return tr.StandardScaler().fit(X)
    if what == "minmax":
        return tr.MinMaxScaler().fit(X)
    return tr.nn.MLP([4, 16 + seed, 3], output="softmax", batch_norm=True, rng=seed)

old, new = make(0), make(1)
target = folder / f"obj.{ext}"
new.save(folder / f"size.{ext}")
size = (folder / f"size.{ext}").stat().st_size
os.unlink(folder / f"size.{ext}")
soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)

def digest(obj):
    state = obj.to_state()
    return tr._persist.checksum(state.header(), state.arrays)

def interrupt(signum, frame):
    raise KeyboardInterrupt

results = []
for fraction, ctrl_c in plan:
    limit = int(fraction * size)
    old.save(target)
    before = target.read_bytes()
    signal.signal(signal.SIGXFSZ, interrupt if ctrl_c else signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        new.save(target)
        outcome = "saved"
    except OSError as exc:
        outcome = "OSError: " + str(exc)
    except KeyboardInterrupt:
        outcome = "KeyboardInterrupt"
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    is_new = digest(type(new).load(target)) == digest(new)
    import gc
    gc.collect()  # a half-written archive left unfinalized would complain here
    results.append({"limit": limit, "size": size, "outcome": outcome,
                    "intact": target.read_bytes() == before, "is_new": is_new,
                    "files": sorted(os.listdir(folder))})
print(json.dumps(results))
"""


def run_plan(folder: Path, kind: str, plan: list[tuple[float, bool]]) -> list[dict]:
    env = dict(os.environ, PYTHONPATH=SRC, OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(folder), kind, json.dumps(plan)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Exception ignored" not in proc.stderr, proc.stderr[-3000:]  # no zipfile noise
    return json.loads(proc.stdout)


def check(results: list[dict], ext: str) -> None:
    for r in results:
        assert r["files"] == [f"obj.{ext}"], r  # no temporary file left behind
        if r["outcome"] == "saved":
            assert r["is_new"] and r["limit"] >= r["size"], r
        else:
            assert r["intact"] and not r["is_new"], r  # the old file, byte for byte
            assert r["limit"] < r["size"], r


@pytest.mark.parametrize("kind", ["scaler.npz", "scaler.json", "minmax.npz", "mlp.npz", "mlp.json"])
def test_size_limit_and_ctrl_c_at_fixed_byte_counts(tmp_path: Path, kind: str):
    plan = [(f, c) for f in (0.0, 0.01, 0.3, 0.5, 0.99, 1.0, 2.0) for c in (False, True)]
    results = run_plan(tmp_path, kind, plan)
    check(results, kind.split(".")[1])
    outcomes = [r["outcome"].split(":")[0] for r in results]
    assert "OSError" in outcomes and "KeyboardInterrupt" in outcomes and "saved" in outcomes
    failed = next(r for r in results if r["outcome"].startswith("OSError"))
    assert "cannot save" in failed["outcome"] and "unchanged" in failed["outcome"]


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    plan=st.lists(st.tuples(st.floats(0.0, 1.05), st.booleans()), min_size=4, max_size=10),
    kind=st.sampled_from(["scaler.npz", "scaler.json", "mlp.npz", "mlp.json"]),
)
def test_saves_interrupted_at_random_byte_counts(tmp_path: Path, plan, kind):
    folder = tmp_path / f"run{abs(hash((tuple(plan), kind)))}"
    folder.mkdir()
    check(run_plan(folder, kind, plan), kind.split(".")[1])


def test_a_save_that_fails_before_writing_leaves_the_old_file(tmp_path: Path):
    target = tmp_path / "s.npz"
    StandardScaler().fit(np.ones((3, 2)) * [[1], [2], [3]]).save(target)
    before = target.read_bytes()
    with pytest.raises(ValueError, match="not fitted"):
        MinMaxScaler().save(target)
    with pytest.raises(TypeError, match="with_mean: expected True or False"):
        StandardScaler(with_mean="no").fit(np.ones((3, 2)))
    assert target.read_bytes() == before and os.listdir(tmp_path) == ["s.npz"]


def test_the_saved_file_has_the_usual_permissions(tmp_path: Path):
    MLP([2, 1], rng=0).save(tmp_path / "m.npz")
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "m.npz").stat().st_mode & 0o777 == 0o666 & ~umask
