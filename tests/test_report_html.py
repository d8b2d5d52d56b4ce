"""Building blocks of the HTML report: escaping, embedded images, folders."""

from __future__ import annotations

import base64
import re
from pathlib import Path

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
