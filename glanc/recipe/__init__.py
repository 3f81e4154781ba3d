"""Phase 2, the recipe: GLAN's stages as data, the nodes a taxonomy needs and
how a finished node expands; pure functions of the spec and upstream outputs.

Never touches a store, a model or the file system.
"""
