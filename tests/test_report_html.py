"""Building blocks of the HTML report: escaping, embedded images, folders."""

from __future__ import annotations

import base64
import re
import shlex
from pathlib import Path

import numpy as np
import pytest

from trainready.demo import DemoResult, Settings
from trainready.report.html import html_table, img_tag, render_demo_html, write_demo_report


def test_img_tag_embeds_the_bytes_and_escapes_alt() -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
    tag = img_tag(png, 'a "quoted" <alt>')
    src = re.search(r'src="data:image/png;base64,([^"]+)"', tag).group(1)
    assert base64.b64decode(src) == png
    assert 'alt="a &quot;quoted&quot; &lt;alt&gt;"' in tag


def test_html_table_escapes_cells_and_marks_classes() -> None:
    table = html_table(
        [{"name": "<script>x</script>", "value": 1.5, "verdict": "wrong"}],
        numeric=("value",),
        classes={"verdict": lambda v: "bad" if v == "wrong" else ""},
    )
    assert "<script>" not in table and "&lt;script&gt;x&lt;/script&gt;" in table
    assert '<td class="num">1.5</td>' in table
    assert '<td class="bad">wrong</td>' in table
    assert table.count("<th>") == 3
    assert html_table([]) == ""


def test_empty_result_renders_a_page_without_figures(tmp_path: Path) -> None:
    result = DemoResult(Settings.make(True), seconds={}, environment={"numpy": "x"})
    page = render_demo_html(result, {})
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert "<img" not in page and "http" not in page
    files = write_demo_report(result, tmp_path / "new" / "folder")
    assert files.index.read_text(encoding="utf-8") == page
    assert files.figures == ()


def test_out_must_be_a_folder(tmp_path: Path) -> None:
    target = tmp_path / "file.html"
    target.write_text("")
    with pytest.raises(NotADirectoryError, match="out: expected a folder"):
        write_demo_report(DemoResult(Settings.make(True)), target)


MODEL_PY = """
import numpy as np
import trainready as tr

rng = np.random.default_rng(0)
X, y = rng.standard_normal((16, 3)), rng.standard_normal(16)


def cost(p):
    return float(0.5 * np.mean((np.tanh(X @ p["W"].T)[:, 0] - y) ** 2))


def backprop(p):
    a = np.tanh(X @ p["W"].T)[:, 0]
    return {"W": (((a - y) * (1 - a**2)) @ X)[None, :] / len(X)}


def make_problem():
    return cost, {"W": rng.standard_normal((1, 3))}, backprop


def make_model():
    return tr.nn.MLP([3, 8, 8, 1], activation="relu", init="he", rng=0), X
"""


def test_own_network_section_lists_three_commands_and_three_api_calls() -> None:
    from trainready.report._next_steps import OWN_NETWORK, section_own_network

    page = render_demo_html(DemoResult(Settings.make(True)), {})
    section = section_own_network()
    assert section in page and '<a href="#own">' in page
    assert page.rindex("<h2") == page.index('<h2 id="own"')  # the closing section
    kinds = [s.kind for s in OWN_NETWORK]
    assert kinds.count("command") == 3 and kinds.count("api") == 3
    for step in OWN_NETWORK:
        assert "\n" not in step.example  # one line each
        assert f"<code>{step.example}</code>" in section


def test_own_network_commands_run_through_the_real_entry_point(tmp_path, monkeypatch) -> None:
    """Each command, as shown, is valid usage on real files (exit 0 or 1, never 2)."""
    from typer.testing import CliRunner

    from trainready.cli import app
    from trainready.report._next_steps import OWN_NETWORK

    monkeypatch.chdir(tmp_path)
    (tmp_path / "model.py").write_text(MODEL_PY, encoding="utf-8")
    rows = np.random.default_rng(0).normal(50, 10, size=(40, 3))
    np.savetxt(tmp_path / "train.csv", rows, delimiter=",", header="a,b,c", comments="")
    for step in (s for s in OWN_NETWORK if s.kind == "command"):
        argv = shlex.split(step.example)
        assert argv[0] == "trainready"
        res = CliRunner().invoke(app, argv[1:])
        assert res.exit_code in (0, 1), (step.example, res.output)
    assert (tmp_path / "scaler.npz").is_file()


def test_own_network_api_calls_run() -> None:
    import trainready as tr
    from trainready.report._next_steps import OWN_NETWORK

    gen = np.random.default_rng(0)
    X = gen.standard_normal((32, 3))
    space = {
        "tr": tr,
        "cost": lambda p: float(0.5 * np.sum(p["W"] ** 2)),
        "backprop": lambda p: {"W": p["W"]},
        "params": {"W": gen.standard_normal((2, 3))},
        "net": tr.nn.MLP([3, 8, 1], activation="relu", init="he", rng=0),
        "X": X,
        "X_train": X,
        "X_test": X[:4],
    }
    for step in (s for s in OWN_NETWORK if s.kind == "api"):
        exec(step.example, space)
    assert space["rep"].verdict == "ok"
    assert space["diag"].ok in (True, False)
    assert space["Z_test"].shape == (4, 3)
