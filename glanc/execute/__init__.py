"""Phase 4, execution: a scheduler hands the calls the plan decided to run to a
backend (threads today), records every result in the store as it arrives, and
grows the graph below it; typed events report what happened.

The coordinator thread is the store's only writer; backends only call models.
"""
