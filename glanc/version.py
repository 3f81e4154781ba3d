"""glanc's version, in a module of its own: the manifest and the no-op stamp record it,
and importing it must not load the package face (which imports every phase)."""

__version__ = "0.2.0"

# Bump whenever a change to glanc could change a build's artifact for the same spec,
# lock and store (a quality check's verdict, a rule of the recipe): the no-op stamp
# holds it, so the next build walks its nodes and decides its rows again.
ARTIFACT_REVISION = 9
