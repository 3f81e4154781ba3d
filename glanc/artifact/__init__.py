"""Phase 6, the artifact: ``builds/<name>/`` (dataset, lock, manifest, card),
written as a whole; and what reads artifacts back: diff, export, git revisions.
"""
