"""``trainready demo --quick`` end to end: the claims it makes hold, the report reads offline,
and every figure loads in a real browser (headless Chromium)."""

from __future__ import annotations

import base64
import re
import shutil
import struct
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from trainready.cli import app
from trainready.demo import run_demo
from trainready.report.html import FIGURES

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_SIGNATURE
    return struct.unpack(">II", data[16:24])


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("demo") / "report"
    result = CliRunner().invoke(app, ["demo", "--quick", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out, result.stdout


@pytest.fixture(scope="module")
def result():
    """The same quick demo computed directly (the CLI only renders it)."""
    return run_demo(quick=True)


def test_demo_writes_pngs_and_a_self_contained_index(report: tuple[Path, str]) -> None:
    out, stdout = report
    index = out / "index.html"
    assert index.is_file()
    html = index.read_text(encoding="utf-8")
    for name in FIGURES:
        data = (out / name).read_bytes()
        width, height = png_size(data)
        assert width > 300 and height > 200
        # embedded byte for byte
        assert base64.b64encode(data).decode() in html
    assert html.count('src="data:image/png;base64,') == len(FIGURES)
    # readable offline: no external resource of any kind
    assert not re.search(r"https?://|//cdn|<link\b|src=\"(?!data:)", html)
    # the terminal summary names every section and the report
    for words in (
        "1. normalization",
        "2. vanishing/exploding",
        "3. initialization",
        "4. gradient checking",
        "index.html",
    ):
        assert words in stdout


def test_demo_out_is_a_file_exits_2(tmp_path: Path) -> None:
    target = tmp_path / "taken"
    target.write_text("x")
    res = CliRunner().invoke(app, ["demo", "--quick", "--out", str(target)])
    assert res.exit_code == 2
    assert res.stderr.strip().startswith("error: --out") and res.stderr.count("\n") == 1


def test_normalization_section(result) -> None:
    res = result.normalization
    # oracle: the standardized training split has mean 0 and std 1 in every feature
    np.testing.assert_allclose(res.std_scaled, 1.0, rtol=1e-10)
    np.testing.assert_allclose(res.mean_scaled, 0.0, atol=1e-10)
    assert res.scale_ratio > 1e4
    assert "scale_mismatch" in res.audit_raw.kinds() and res.audit_scaled.ok
    raw_fast, raw_slow, standardized = res.runs
    assert standardized.final_loss < raw_slow.final_loss < raw_fast.final_loss
    assert standardized.test_accuracy > max(raw_fast.test_accuracy, raw_slow.test_accuracy)


def test_depth_section(result) -> None:
    res = result.depth
    up, down = res.linear
    layers = np.arange(1, up.depth + 1)
    np.testing.assert_allclose(up.activation_ratio, 1.5**layers, rtol=1e-12)
    np.testing.assert_allclose(down.activation_ratio, 0.5**layers, rtol=1e-12)
    kinds = {s.label: set(s.diagnosis.kinds()) for s in res.schemes}
    assert "symmetry" in kinds["zeros"]
    assert "exploding" in kinds["N(0, 1)"]
    assert "vanishing" in kinds["LeCun"]
    assert kinds["He"] == set() and kinds["LSUV"] == set()
    std = {s.label: s.last_std for s in res.schemes}
    assert 0.1 < std["He"] < 10 and 0.1 < std["LSUV"] < 10
    assert std["N(0, 1)"] > 1e20 and std["LeCun"] < 1e-4 and std["zeros"] == 0


def test_initialization_section(result) -> None:
    runs = {r.run.label: r for r in result.initialization.runs}
    zeros = runs["zeros"]
    # symmetry is never broken: the cost stays at log 2 and the net predicts one class
    assert zeros.run.final_loss == pytest.approx(np.log(2), abs=1e-6)
    assert zeros.run.test_accuracy == pytest.approx(0.5, abs=0.05)
    assert runs["random × 10"].initial_loss > 10 * runs["He"].initial_loss
    for name in ("He", "LeCun"):
        assert runs[name].run.test_accuracy >= 0.9
        assert runs[name].boundary is not None
        assert runs[name].boundary.proba.min() < 0.5 < runs[name].boundary.proba.max()


def test_gradcheck_section(result) -> None:
    res = result.gradcheck
    assert res.at_init.passed and res.after_training.passed
    assert res.after_training.difference < 1e-7
    for case in res.bugs:
        assert case.caught, (case.bug, case.report.summary())
    hints = [c.report.failing[0].hint for c in res.bugs]
    assert "2.00 × numeric" in hints[0]
    assert "sign flipped" in hints[1]
    assert "regularization" in hints[2]
    assert res.bugs[3].report.failing[0].worst_index == (1, 3)
    assert res.big_n_params >= 1_000_000
    assert res.probe_correct.passed
    found = res.probe_buggy.failing[0]
    assert (found.name, found.worst_index) == ("W1", res.probe_bug_index)
    assert res.probe_buggy.evaluations < 500 < res.classic_calls


CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
IMG_CHECK = (
    "<script>window.addEventListener('load',function(){var r=[];"
    "document.querySelectorAll('img').forEach(function(i){"
    "r.push((i.complete&&i.naturalWidth>0?'loaded':'broken')+' '+i.naturalWidth)});"
    "var p=document.createElement('pre');p.id='imgcheck';p.textContent=r.join(';');"
    "document.body.appendChild(p);});</script>"
)


def _chromium() -> str | None:
    for name in ("/usr/bin/chromium", "chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.mark.slow
def test_report_in_headless_chromium(report: tuple[Path, str]) -> None:
    exe = _chromium()
    if exe is None:
        pytest.skip("chromium is not installed (make test installs it with apt-get as root)")
    out, _ = report
    # the page itself has no script; a copy with a checker reports what the browser loaded
    check = out / "check.html"
    check.write_text(
        (out / "index.html").read_text(encoding="utf-8").replace("</body>", IMG_CHECK + "</body>"),
        encoding="utf-8",
    )
    with tempfile.TemporaryDirectory() as profile:
        dom = subprocess.run(
            [
                exe,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={profile}",
                "--virtual-time-budget=5000",
                "--dump-dom",
                check.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    found = re.search(r'<pre id="imgcheck">([^<]*)</pre>', dom.stdout)
    assert found, dom.stderr[-2000:]
    states = found.group(1).split(";")
    assert len(states) == len(FIGURES)
    assert all(s.startswith("loaded ") and int(s.split()[1]) > 300 for s in states), states

    shot = out / "screenshot.png"
    with tempfile.TemporaryDirectory() as profile:
        proc = subprocess.run(
            [
                exe,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={profile}",
                "--hide-scrollbars",
                "--window-size=1280,5200",
                f"--screenshot={shot}",
                (out / "index.html").as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert shot.is_file(), proc.stderr[-2000:]
    data = shot.read_bytes()
    assert png_size(data) == (1280, 5200)
    assert len(data) > 200_000  # a blank page compresses to a few kB


def test_footer_run_time_is_the_terminals(report: tuple[Path, str]) -> None:
    """One measured duration, printed by the terminal and written in the report's footer."""
    out, stdout = report
    page = (out / "index.html").read_text(encoding="utf-8")
    footer = re.search(r'<span id="run-seconds">(\d+\.\d) s</span>', page)
    terminal = re.search(r"·\s*(\d+\.\d) s\s*$", stdout.strip())
    assert footer and terminal, stdout[-400:]
    assert footer.group(1) == terminal.group(1)
    assert float(footer.group(1)) > 0


def test_readme_demo_claims_match_the_run(result) -> None:
    """The numbers the README's demo section states are the demo's (same seed; the gradcheck
    section is the same in the quick and the full run)."""
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    demo = text[text.index("## The demo and the command line") :]
    ratio = re.search(r"feature stds span a factor (\S+);", demo).group(1)
    assert ratio == f"{result.normalization.scale_ratio:.2g}".replace("e+0", "e")
    res = result.gradcheck
    found = re.search(
        r"backprop passes \(difference ≈ 1e(-\d+) at\s+initialization, where (\d+) of its (\d+) "
        r"elements cross ReLU kinks, and ≈ 1e(-\d+) after training\)",
        demo,
    )
    assert int(found.group(1)) == round(np.log10(res.at_init.difference))
    assert int(found.group(2)) == len(res.at_init.kinks)
    assert int(found.group(3)) == res.at_init.n_params
    assert int(found.group(4)) == round(np.log10(res.after_training.difference))
    n = re.search(r"wrong among ([\d,]+) parameters in under (\d+) loss calls", demo)
    assert int(n.group(1).replace(",", "")) == res.big_n_params
    assert res.probe_buggy.evaluations < int(n.group(2))
    assert f"2N = {res.classic_calls:,}" in demo
