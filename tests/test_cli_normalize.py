"""``trainready normalize`` on real CSV files (issue 11.7, issue 12.4 and 12.5): read as Python's
csv reader reads them, label and ID columns passed through, errors with row, column and name,
numbers written as the shortest text that round-trips. Oracles: csv, scikit-learn."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from trainready.cli import app

runner = CliRunner()
sk = pytest.importorskip("sklearn.preprocessing")


def one_line_error(result, code: int = 2) -> str:
    assert result.exit_code == code, (result.exit_code, result.output)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and "Traceback" not in result.output
    return lines[0]


def write_csv(path: Path, header: list[str] | None, rows: list[list[object]], **kw: str) -> Path:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_ALL if kw.get("quote") else 0)
    if header is not None:
        w.writerow(header)
    w.writerows(rows)
    path.write_text(buf.getvalue(), encoding=kw.get("encoding", "utf-8"))
    return path


def read_back(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


@pytest.fixture
def patients(tmp_path: Path) -> tuple[Path, np.ndarray, list[list[object]]]:
    """A CSV with an ID column of text, a label, quoted numbers and a quoted header with a comma."""
    rng = np.random.default_rng(3)
    X = np.c_[rng.normal(51.2, 7.0, 40), rng.normal(1e3, 250.0, 40)]
    labels = rng.integers(0, 2, 40)
    rows = [
        [f"p{i:03d}", repr(float(X[i, 0])), repr(float(X[i, 1])), int(labels[i])] for i in range(40)
    ]
    path = write_csv(
        tmp_path / "patients.csv", ["id", "size, cm", "weight", "label"], rows, quote="all"
    )
    return path, X, rows


# ------------------------------------------------------------------- reading as csv reads
def test_quoted_fields_quoted_header_exclude_pass_through(patients, tmp_path: Path) -> None:
    path, X, rows = patients
    sc = tmp_path / "sc.json"
    fit = runner.invoke(
        app, ["normalize", "fit", str(path), "--exclude", "id,label", "-o", str(sc)]
    )
    assert fit.exit_code == 0, fit.output
    assert "on 40 rows x 2 features" in fit.stdout
    assert "'id', 'label'" in fit.stdout  # said to pass through
    out = tmp_path / "scaled.csv"
    tr = runner.invoke(app, ["normalize", "transform", str(path), "-s", str(sc), "-o", str(out)])
    assert tr.exit_code == 0, tr.output
    back = read_back(out)
    assert back[0] == ["id", "size, cm", "weight", "label"]  # the quoted comma survives
    oracle = sk.StandardScaler().fit(X).transform(X)
    got = np.array([[float(r[1]), float(r[2])] for r in back[1:]])
    np.testing.assert_allclose(got, oracle, rtol=1e-12, atol=1e-13)
    # the excluded columns are the very text they were
    assert [r[0] for r in back[1:]] == [r[0] for r in rows]
    assert [r[3] for r in back[1:]] == [str(r[3]) for r in rows]


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffa,b\n1,2\n3,5\n".encode())
    fit = runner.invoke(app, ["normalize", "fit", str(path), "-o", str(tmp_path / "s.npz")])
    assert fit.exit_code == 0, fit.output
    tr = runner.invoke(app, ["normalize", "transform", str(path), "-s", str(tmp_path / "s.npz")])
    assert tr.exit_code == 0, tr.output
    assert read_back(tmp_path / "bom.scaled.csv")[0] == ["a", "b"]  # not '\ufeffa'


def test_latin1_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "l1.csv"
    path.write_bytes("temp,température\n1,2\n3,4\n".encode("latin-1"))
    line = one_line_error(runner.invoke(app, ["normalize", "fit", str(path)]))
    assert "not UTF-8" in line and "line 1" in line and "iconv" in line


def test_warnings_do_not_leak_to_stderr(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "c.csv", ["a", "const"], [[1.0, 5.0], [2.0, 5.0], [4.0, 5.0]])
    fit = runner.invoke(app, ["normalize", "fit", str(path), "-o", str(tmp_path / "s.npz")])
    assert fit.exit_code == 0 and fit.stderr == ""
    assert "note: ConstantFeatureWarning" in fit.stdout and "'const'" in fit.stdout


# ------------------------------------------------------------------------ errors: where
def test_bad_cell_names_row_column_and_header(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "d.csv", ["x", "ratio"], [[1, 2], [3, "n/a"], [4, 5]])
    line = one_line_error(runner.invoke(app, ["normalize", "fit", str(path)]))
    # the header is row 1, so the third line of the file is row 3, as in a spreadsheet
    assert "row 3, column 2 ('ratio') holds 'n/a', not a number" in line
    assert "--exclude 'ratio'" in line


def test_semicolon_file_gets_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "eu.csv"
    path.write_text("a;b\n1,5;2\n3;4\n")
    assert "separated by ';'" in one_line_error(runner.invoke(app, ["normalize", "fit", str(path)]))


def test_ragged_row(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("a,b\n1,2\n3,4,5\n")
    line = one_line_error(runner.invoke(app, ["normalize", "fit", str(path)]))
    assert "row 3 has 3 field(s), the header has 2" in line


def test_nan_policy(tmp_path: Path) -> None:
    rows = [[1.0, 2.0], [3.0, ""], [5.0, 7.0], [2.0, "nan"]]
    path = write_csv(tmp_path / "n.csv", ["a", "b"], rows)
    line = one_line_error(runner.invoke(app, ["normalize", "fit", str(path)]))
    assert "row 3, column 2 ('b') is empty" in line
    assert "2 missing or non-finite value(s) in column 2 ('b')" in line
    assert "--nan-policy omit" in line
    sc = tmp_path / "s.npz"
    fit = runner.invoke(app, ["normalize", "fit", str(path), "--nan-policy", "omit", "-o", str(sc)])
    assert fit.exit_code == 0, fit.output
    tr = runner.invoke(app, ["normalize", "transform", str(path), "-s", str(sc)])
    assert tr.exit_code == 0, tr.output
    back = read_back(tmp_path / "n.scaled.csv")[1:]
    oracle = sk.StandardScaler().fit_transform(np.array([[1, 2], [3, np.nan], [5, 7], [2, np.nan]]))
    got = np.array([[float(c) for c in r] for r in back])
    np.testing.assert_allclose(got, oracle, rtol=1e-12, equal_nan=True)


def test_exclude_by_index_without_header_and_errors(tmp_path: Path) -> None:
    X = np.random.default_rng(0).normal(size=(30, 3))
    rows = [[i, *X[i].tolist()] for i in range(30)]
    path = write_csv(tmp_path / "h.csv", None, rows)
    sc = tmp_path / "s.npz"
    fit = runner.invoke(app, ["normalize", "fit", str(path), "-x", "0", "-o", str(sc)])
    assert fit.exit_code == 0, fit.output
    assert "30 rows x 3 features" in fit.stdout
    base = ["normalize", "transform", str(path), "-s", str(sc)]
    line = one_line_error(runner.invoke(app, base))
    assert "has 4 column(s) to scale, but the scaler was fitted on 3" in line
    assert runner.invoke(app, [*base, "-x", "0"]).exit_code == 0
    back = read_back(tmp_path / "h.scaled.csv")
    assert [r[0] for r in back] == [str(i) for i in range(30)]
    np.testing.assert_allclose(
        np.array([[float(c) for c in r[1:]] for r in back]),
        sk.StandardScaler().fit_transform(X),
        rtol=1e-12,
        atol=1e-13,
    )
    line = one_line_error(runner.invoke(app, ["normalize", "fit", str(path), "-x", "id"]))
    assert "no header row" in line and "0-based index" in line
    line = one_line_error(runner.invoke(app, ["normalize", "fit", str(path), "-x", "9"]))
    assert "0..3" in line


def test_exclude_unknown_name_lists_the_header(patients) -> None:
    path, _, _ = patients
    line = one_line_error(runner.invoke(app, ["normalize", "fit", str(path), "-x", "ID"]))
    assert "no column named 'ID'" in line and "'id'" in line and "'size, cm'" in line


def test_transform_selects_columns_by_name(patients, tmp_path: Path) -> None:
    """A test file with its columns in another order is scaled by name, not by position."""
    path, X, rows = patients
    sc = tmp_path / "s.npz"
    assert (
        runner.invoke(
            app, ["normalize", "fit", str(path), "-x", "id", "-x", "label", "-o", str(sc)]
        ).exit_code
        == 0
    )
    swapped = write_csv(
        tmp_path / "swapped.csv",
        ["weight", "label", "size, cm", "id"],
        [[r[2], r[3], r[1], r[0]] for r in rows],
    )
    tr = runner.invoke(app, ["normalize", "transform", str(swapped), "-s", str(sc)])
    assert tr.exit_code == 0, tr.output
    back = read_back(tmp_path / "swapped.scaled.csv")
    oracle = sk.StandardScaler().fit(X).transform(X)
    np.testing.assert_allclose([float(r[2]) for r in back[1:]], oracle[:, 0], rtol=1e-12)
    np.testing.assert_allclose([float(r[0]) for r in back[1:]], oracle[:, 1], rtol=1e-12)
    missing = write_csv(tmp_path / "m.csv", ["weight"], [[1.0], [2.0]])
    line = one_line_error(
        runner.invoke(app, ["normalize", "transform", str(missing), "-s", str(sc)])
    )
    assert "no column 'size, cm'" in line


def test_audit_names_features_by_header(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    X = np.c_[rng.normal(0, 1, 100), rng.normal(5e3, 1e3, 100)]
    path = write_csv(tmp_path / "a.csv", ["small", "area"], X.tolist())
    fit = runner.invoke(app, ["normalize", "fit", str(path), "-o", str(tmp_path / "s.npz")])
    assert fit.exit_code == 0, fit.output
    audit_lines = [line for line in fit.stdout.splitlines() if line.startswith("- [")]
    assert any("'area'" in line for line in audit_lines), fit.stdout


def test_range_needs_minmax(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "r.csv", ["a"], [[1.0], [2.0]])
    line = one_line_error(runner.invoke(app, ["normalize", "fit", str(path), "--range", "-1", "1"]))
    assert "--kind minmax" in line
    ok = runner.invoke(
        app,
        [
            "normalize",
            "fit",
            str(path),
            "--kind",
            "minmax",
            "--range",
            "-1",
            "1",
            "-o",
            str(tmp_path / "s.json"),
        ],
    )
    assert ok.exit_code == 0, ok.output


# -------------------------------------------------------------- output: shortest round trip
def test_numbers_written_as_shortest_round_trip(tmp_path: Path) -> None:
    """Scaling [2.78, 13.78] to [0, 11] by minmax writes 13.78-like values, never 13.77999..."""
    path = write_csv(tmp_path / "s.csv", ["v"], [[0.0], [13.78], [1.1]])
    sc = tmp_path / "mm.json"
    assert (
        runner.invoke(
            app,
            [
                "normalize",
                "fit",
                str(path),
                "--kind",
                "minmax",
                "--range",
                "0",
                "13.78",
                "-o",
                str(sc),
            ],
        ).exit_code
        == 0
    )
    assert runner.invoke(app, ["normalize", "transform", str(path), "-s", str(sc)]).exit_code == 0
    cells = [r[0] for r in read_back(tmp_path / "s.scaled.csv")[1:]]
    expected = sk.MinMaxScaler((0, 13.78)).fit_transform([[0.0], [13.78], [1.1]])[:, 0]
    assert cells == [repr(float(v)) for v in expected]
    assert "13.78" in cells


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.lists(st.floats(-1e6, 1e6, allow_nan=False, width=64), min_size=3, max_size=3),
        min_size=2,
        max_size=12,
    )
)
def test_csv_round_trip_equals_sklearn_bit_for_bit(tmp_path: Path, rows: list[list[float]]) -> None:
    """Any floats written with repr, fitted and transformed through the CLI, read back equal to
    the scaled float64 values exactly (the output text loses nothing)."""
    X = np.array(rows)
    folder = tmp_path / str(abs(hash(X.tobytes())))
    folder.mkdir(exist_ok=True)
    path = write_csv(folder / "x.csv", ["a", "b", "c"], [[repr(v) for v in r] for r in rows])
    sc = folder / "s.npz"
    assert runner.invoke(app, ["normalize", "fit", str(path), "-o", str(sc)]).exit_code == 0
    assert runner.invoke(app, ["normalize", "transform", str(path), "-s", str(sc)]).exit_code == 0
    got = np.array([[float(c) for c in r] for r in read_back(folder / "x.scaled.csv")[1:]])
    from trainready.normalize import load

    with warnings.catch_warnings():  # fitted with the header's names, given a bare array here
        warnings.simplefilter("ignore", UserWarning)
        exact = load(sc).transform(X)
    np.testing.assert_array_equal(got, exact)  # the text round trip is exact
    np.testing.assert_allclose(got, sk.StandardScaler().fit(X).transform(X), rtol=1e-9, atol=1e-9)


# --------------------------------------------------------------------- progress bars (12.5)
def run_in_terminal(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TTY_COMPATIBLE": "1", "COLUMNS": "80"}
    env["PYTHONPATH"] = os.pathsep.join(
        [str(Path(__file__).parents[1] / "src"), env.get("PYTHONPATH", "")]
    )
    return subprocess.run(
        [sys.executable, "-m", "trainready", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env,
        cwd=cwd,
    )


def test_no_bar_for_a_small_csv_and_a_bar_for_a_large_one(tmp_path: Path) -> None:
    from trainready.cli._progress import BAR_BYTES

    rng = np.random.default_rng(0)
    small = write_csv(tmp_path / "small.csv", ["a", "b"], rng.normal(size=(100, 2)).tolist())
    proc = run_in_terminal(["normalize", "fit", str(small), "-o", "s.npz"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # a forced terminal, yet no bar drawn at all
    n = BAR_BYTES // (8 * 20) + 1000  # rows of 8 numbers of ~20 characters
    big = write_csv(
        tmp_path / "big.csv",
        [f"f{i}" for i in range(8)],
        [[repr(v) for v in r] for r in rng.normal(size=(n, 8)).tolist()],
    )
    assert big.stat().st_size >= BAR_BYTES
    proc = run_in_terminal(["normalize", "fit", str(big), "-o", "b.npz"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "reading big.csv" in proc.stderr  # drawn (and erased: transient)
    assert f"on {n} rows x 8 features" in proc.stdout


def test_failed_write_keeps_the_old_output_and_leaves_no_debris(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write that fails half-way (injected: fsync raises, as on a full disk) leaves the previous
    output byte for byte, no temporary file, and one line, exit 2 -- not a 'bug in trainready'."""
    path = write_csv(tmp_path / "d.csv", ["a", "b"], [[1.0, 2.0], [3.0, 5.0], [4.0, 9.0]])
    sc = tmp_path / "s.npz"
    assert runner.invoke(app, ["normalize", "fit", str(path), "-o", str(sc)]).exit_code == 0
    out = tmp_path / "old.csv"
    out.write_text("precious\n")

    def full_disk(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    args = ["normalize", "transform", str(path), "-s", str(sc), "-o", str(out)]
    line = one_line_error(runner.invoke(app, args))
    assert "writing failed" in line and "No space left on device" in line
    assert out.read_text() == "precious\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.csv", "old.csv", "s.npz"]


def test_audit_feature_names_keyword() -> None:
    """The keyword the CLI uses (normalize/_audit.py): names in messages, indices in findings."""
    from trainready.normalize import audit

    X = np.c_[
        np.random.default_rng(0).normal(0, 1, 50), np.random.default_rng(1).normal(0, 1e4, 50)
    ]
    rep = audit(X, feature_names=["small", "big"])
    finding = next(f for f in rep.findings if f.kind == "scale_mismatch")
    assert "'small'" in finding.message and finding.features == (0,)  # the median is the big one
    plain = next(f for f in audit(X).findings if f.kind == "scale_mismatch").message
    assert "'small'" not in plain and "features 0 are" in plain
    with pytest.raises(ValueError, match="feature_names has 1 names for 2 features"):
        audit(X, feature_names=["small"])
