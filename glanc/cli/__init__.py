"""The ``glanc`` command line: flags in, ``Workspace`` and ``BuildOptions`` out,
then one call into ``glanc.tasks``; rendering for humans. Nothing else."""

from .main import main

__all__ = ["main"]
