"""glanc's version, in a module of its own: the manifest and the no-op stamp record it,
and importing it must not load the package face (which imports every phase)."""

__version__ = "0.1.0"
