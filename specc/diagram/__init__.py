"""``specc graph``: a picture of a checked model, as SVG, PNG or DOT.

The pipeline, one module per step:

- :mod:`~specc.diagram.groups`: which layers belong together (block instances today; the
  IR's scopes later) as :class:`~specc.diagram.groups.Group` records;
- :mod:`~specc.diagram.graph`: boxes, tensors and open groups, closed below ``--depth``;
- :mod:`~specc.diagram.layout`: each open group laid out inside out with
  :mod:`~specc.diagram.layered` (ranks, order, routes) and :mod:`~specc.diagram.placement`
  (positions across the flow), sized by :mod:`~specc.diagram.sizes` and
  :mod:`~specc.diagram.metrics` (text widths without a font library);
- :mod:`~specc.diagram.scene`: the shapes to draw, written by :mod:`~specc.diagram.svg` and
  :mod:`~specc.diagram.png` (Pillow, imported only there); :mod:`~specc.diagram.dot` writes
  the graph for Graphviz instead;
- :mod:`~specc.diagram.output`: the command's entry points (format, render, atomic write).

Nothing here imports TensorFlow or PyTorch.
"""
