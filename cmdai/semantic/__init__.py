"""Semantic history search: the embedder, the vector store, and hybrid ranking.

Nothing heavy is imported here: numpy, onnxruntime and tokenizers load inside the functions that
need them, so that `cmdai search` on a cold path and the shell widgets stay light.
"""
