"""Language models: DSPy programs built from template stages, the engines that
run them (llama.cpp in-process, OpenAI-compatible servers, DSPy's own route,
the stub), one call with its retries, and token accounting.

Knows the spec's types; never the store, the plan or the build graph.
"""
