"""Phase 1, the spec: YAML taxonomy and template specs in, a frozen ``Taxonomy`` out.

Reads files and the schemas glanc ships; never a store, a model or the network.
Nothing is re-exported here: importing ``glanc.specs.types`` must not load the
YAML and JSON Schema machinery that only validation needs.
"""
