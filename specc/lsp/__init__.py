"""``specc lsp``: a language server for spec files (diagnostics, inlay hints, hover, completion,
navigation, rename, outline, formatting and quick fixes), built on pygls.

Like ``specc check`` it never imports TensorFlow or PyTorch.
"""
