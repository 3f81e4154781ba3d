"""A library caller gets the CLI's defaults: one default per setting, in options.py."""

from glanc import BuildOptions, Workspace
from glanc.cli import main


def defaults(command: str) -> dict:
    """Each option's value when the flag is not given (click's, as the command sees it)."""
    ctx = main.commands[command].make_context(command, ["x.yaml"] if command != "gc" else ["x"])
    return ctx.params


def test_build_defaults_are_the_cli_defaults():
    cli, options, workspace = defaults("build"), BuildOptions(), Workspace()
    assert cli["concurrency"] == options.concurrency == 16
    assert cli["store"] == workspace.store and cli["out"] == workspace.builds
    assert cli["model"] is options.model is None
    assert (cli["rpm"], cli["tpm"]) == (options.rpm, options.tpm) == (None, None)
    assert cli["no_lock"] is (not options.use_lock) is False
    assert cli["force"] is options.force is False
    assert options.selection.everything


def test_plan_and_gc_use_the_same_store_and_builds_defaults():
    workspace = Workspace()
    assert defaults("plan")["store"] == defaults("gc")["store"] == workspace.store
    assert defaults("plan")["out"] == defaults("check")["out"] == workspace.builds
