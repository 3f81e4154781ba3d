"""``python -m glanc``: the same as the ``glanc`` command."""

from .cli import main

main()
