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


def test_plan_imports_nothing_of_the_build():
    """``glanc plan`` (and ``import glanc``) leave the build's modules unimported:
    they were a third of a plan's import time. ``glanc.build`` still imports the
    build's task when first asked for (and the quality gate when a build walks)."""
    code = (
        "import sys, glanc\n"
        "from glanc.cli.main import main\n"
        "try:\n"
        "    main(['plan', 'taxonomies/science.yaml', '--store', sys.argv[1]])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = [m for m in ('glanc.tasks.build', 'glanc.quality.gate', 'dspy')"
        " if m in sys.modules]\n"
        "from glanc import build\n"
        "print(heavy, 'glanc.tasks.build' in sys.modules, callable(build))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, "/nonexistent/none.duckdb"], cwd=ROOT,
                          capture_output=True, text=True, check=True)  # fmt: skip
    assert proc.stdout.split("\n")[-2] == "[] True True", proc.stdout + proc.stderr
