"""The CLI surface: help text with an example on every command, README and CI agree."""

import re

import pytest
from click.testing import CliRunner
from conftest import ROOT

from glanc.cli import main

COMMANDS = sorted(main.commands)


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_is_documented_with_an_example(name):
    result = CliRunner().invoke(main, [name, "--help"])
    assert result.exit_code == 0
    assert "Example:" in result.output
    assert f"glanc {name}" in result.output.split("Example:")[1]
    command = main.commands[name]
    assert all(p.help for p in command.params if p.param_type_name == "option"), name


def test_group_help_and_version():
    runner = CliRunner()
    assert "Example:" in runner.invoke(main, ["--help"]).output
    assert "0.2.0" in runner.invoke(main, ["--version"]).output


def test_ci_runs_exactly_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)\n```", readme, re.S)
    test_command = next(b for b in blocks if "pytest" in b)
    ci = (ROOT / ".ci" / "run").read_text()
    assert test_command.strip() in ci.splitlines()
    install = next(b for b in blocks if "glanc build" in b)
    assert install.strip().endswith("glanc build taxonomies/science.yaml --no-lock --out .glanc/builds")
    assert "glanc check taxonomies/science.yaml" in test_command
