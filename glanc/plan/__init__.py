"""Phase 3, the plan: one decision per node (cached, skipped, run, or joining a
call on its way) and why; selectors; the plan's counts and estimates.

Reads the store, never writes it, never calls a model.
"""
