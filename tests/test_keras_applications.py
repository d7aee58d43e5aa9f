"""Counts against ``keras.applications`` for the specs that reproduce one with Keras's
preprocessing layers: EfficientNet-B0 is ``specs/efficientnet_b0.spec`` after Rescaling and
Normalization, whose adapted statistics Keras counts as 7 non-trainable weights."""

from __future__ import annotations

import keras

from specc.compiler import check_text
from tests.emitted import ROOT


def test_efficientnet_b0_with_keras_preprocessing_counts_as_keras_applications():
    text = (ROOT / "specs" / "efficientnet_b0.spec").read_text(encoding="utf-8")
    text = text.replace(
        "input 224x224x3\n", "input 224x224x3\nrescaling 0.00392156862745098\nnormalization\n"
    )
    checked = check_text(text, "efficientnet_b0_keras.spec")
    assert checked.ok, [d.message for d in checked.diagnostics]
    totals = checked.totals()
    model = keras.applications.EfficientNetB0(weights=None)
    try:
        trainable = sum(int(w.numpy().size) for w in model.trainable_weights)
        assert totals["params"] == model.count_params() == 5_330_571
        assert totals["trainable_params"] == trainable
    finally:
        keras.backend.clear_session()
