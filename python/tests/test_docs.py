"""Every ```python block of docs/python.md runs, in order, in one namespace (as a reader would)."""
import os
import re

import matplotlib

matplotlib.use("Agg")

from conftest import SOURCE


def test_the_tutorial_runs(tmp_path):
    text = (SOURCE / "docs" / "python.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) >= 5
    namespace = {}
    # The tutorial reads data/... from the repository root; the test runs it in a scratch folder
    # (it writes pictures) that sees the same data.
    (tmp_path / "data").symlink_to(SOURCE / "data")
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        for number, block in enumerate(blocks):
            try:
                exec(compile(block, f"docs/python.md block {number}", "exec"), namespace)
            except Exception as error:
                raise AssertionError(f"docs/python.md block {number} failed:\n{block}") from error
    finally:
        os.chdir(cwd)
