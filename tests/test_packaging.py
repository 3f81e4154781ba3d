"""A normal (non-editable) wheel carries the schemas and the default template."""

import subprocess
import sys
import zipfile

from conftest import ROOT


def test_wheel_contains_schemas_and_default_template(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True,
    )
    (wheel,) = tmp_path.glob("glanc-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"glanc/_schemas/taxonomy.schema.json", "glanc/_schemas/template.schema.json",
            "glanc/templates/default.yaml", "glanc/cli/main.py"} <= names
