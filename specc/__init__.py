"""specc: a compiler for neural-network model specs.

A spec is a compact, line-per-layer description of a model.  specc parses it into a validated
IR, infers every layer's shape, parameter count and MACs, emits standalone Keras or PyTorch
source, and trains the result.  Nothing imported here pulls in TensorFlow or PyTorch.
"""

__version__ = "0.1.0"
