"""The quality helper process's entry point (``python -m glanc.quality.helper``):
a module nothing imports, so running it does not import it twice."""

from glanc.quality.verdicts import serve

if __name__ == "__main__":
    serve()
