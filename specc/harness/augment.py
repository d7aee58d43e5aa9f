"""Image augmentation and normalisation: one numpy implementation for both backends.

``augment crop=4 flip=horizontal shift=0.1 rotate=15`` in a train section draws, at the start
of every epoch, one set of random parameters per training sample from (seed, epoch) alone,
and transforms each sample with its own: so both backends (and a resumed run) see exactly the
same augmented images, whatever order the batches come in.  Evaluation (validation, test)
never augments.  The transforms, in this order, on NHWC images:

- ``crop=P``: pad with P zero pixels on every side and cut a random window of the original
  size (offsets uniform in [0, 2P]): Keras's ``RandomCrop`` after ``ZeroPadding2D``,
  torchvision's ``RandomCrop(size, padding=P)``;
- ``flip=horizontal|vertical|both``: mirror with probability 1/2 (each axis independently);
- ``shift=F``: translate by up to F of the height and width (uniform, in pixels, bilinear);
- ``rotate=D``: rotate by up to D degrees about the centre (uniform, bilinear);

pixels that come from outside the image are 0.  ``normalize mean=M std=S`` (one number, or
``"m1,m2,m3"`` per channel) then maps every image, in training and evaluation, to
``(x - M) / S``, after augmentation (so padding is black, as in torchvision).

The tables are pure Python (``specc check`` reads them); numpy is imported where used.
"""

from __future__ import annotations

# argument: (default, rule) (rules: arguments.py)
AUGMENT: dict[str, tuple] = {
    "crop": (0, "count"),
    "flip": ("none", "flip"),
    "shift": (0.0, "shift"),
    "rotate": (0.0, "degrees"),
}
NORMALIZE = ("mean", "std")
AUGMENT_STREAM = 0xA06  # mixed into the seed: augmentation's draws are its own


def active(augment: dict) -> bool:
    """Whether the settings ``augment`` transform anything."""
    return bool(
        augment.get("crop", 0)
        or augment.get("flip", "none") != "none"
        or augment.get("shift", 0)
        or augment.get("rotate", 0)
    )


def draw(augment: dict, count: int, seed: int, epoch: int) -> dict:
    """The random parameters of ``count`` samples for ``epoch``: arrays indexed by sample."""
    import numpy as np

    rng = np.random.default_rng([seed, epoch, AUGMENT_STREAM])
    params = {}
    crop = int(augment.get("crop", 0))
    if crop:
        params["crop"] = rng.integers(0, 2 * crop + 1, size=(count, 2))
    flip = augment.get("flip", "none")
    if flip in ("horizontal", "both"):
        params["flip_x"] = rng.random(count) < 0.5
    if flip in ("vertical", "both"):
        params["flip_y"] = rng.random(count) < 0.5
    shift = float(augment.get("shift", 0.0))
    if shift:
        params["shift"] = rng.uniform(-shift, shift, size=(count, 2))
    rotate = float(augment.get("rotate", 0.0))
    if rotate:
        params["angle"] = rng.uniform(-rotate, rotate, size=count)
    return params


def apply(x, params: dict, index, crop: int = 0):
    """The images ``x`` (NHWC) transformed with the parameters of samples ``index``."""
    import numpy as np

    x = np.asarray(x, dtype="float32")
    index = np.asarray(index)
    if "crop" in params:
        x = _crop(x, params["crop"][index], crop)
    if "flip_x" in params:
        chosen = params["flip_x"][index]
        x = np.where(chosen[:, None, None, None], x[:, :, ::-1, :], x)
    if "flip_y" in params:
        chosen = params["flip_y"][index]
        x = np.where(chosen[:, None, None, None], x[:, ::-1, :, :], x)
    if "shift" in params or "angle" in params:
        count = len(index)
        shift = params["shift"][index] if "shift" in params else np.zeros((count, 2))
        angle = params["angle"][index] if "angle" in params else np.zeros(count)
        x = _affine(x, shift, angle)
    return x


def augment_epoch(x, augment: dict, seed: int, epoch: int):
    """Every training sample of ``x`` augmented for ``epoch`` (the array in index order)."""
    import numpy as np

    params = draw(augment, len(x), seed, epoch)
    return apply(x, params, np.arange(len(x)), int(augment.get("crop", 0)))


def _crop(x, offsets, pad: int):
    import numpy as np

    n, h, w, _ = x.shape
    padded = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    rows = offsets[:, 0, None] + np.arange(h)[None, :]  # (n, h)
    cols = offsets[:, 1, None] + np.arange(w)[None, :]  # (n, w)
    batch = np.arange(n)[:, None, None]
    return padded[batch, rows[:, :, None], cols[:, None, :]]


def _affine(x, shift, angle_degrees):
    """Each image translated by ``shift`` (fractions of height and width) and rotated by its
    angle about the centre; bilinear, zeros outside."""
    import numpy as np

    n, h, w, _ = x.shape
    # a positive angle turns the image anticlockwise as shown (rows grow downwards)
    theta = -np.deg2rad(angle_degrees)[:, None, None]
    cy, cx = (h - 1) / 2.0, (w - 1) / 2.0
    ys, xs = np.meshgrid(np.arange(h, dtype="float64"), np.arange(w, dtype="float64"),
                         indexing="ij")  # fmt: skip
    # where each output pixel comes from: undo the shift, then the rotation
    dy = ys[None] - cy - shift[:, 0, None, None] * h
    dx = xs[None] - cx - shift[:, 1, None, None] * w
    cos, sin = np.cos(theta), np.sin(theta)
    src_y = cos * dy - sin * dx + cy
    src_x = sin * dy + cos * dx + cx
    y0, x0 = np.floor(src_y), np.floor(src_x)
    wy, wx = (src_y - y0)[..., None], (src_x - x0)[..., None]
    out = np.zeros_like(x)
    batch = np.arange(n)[:, None, None]
    for oy, ox, weight in ((0, 0, (1 - wy) * (1 - wx)), (0, 1, (1 - wy) * wx),
                           (1, 0, wy * (1 - wx)), (1, 1, wy * wx)):  # fmt: skip
        yy, xx = (y0 + oy).astype("int64"), (x0 + ox).astype("int64")
        inside = ((yy >= 0) & (yy < h) & (xx >= 0) & (xx < w))[..., None]
        values = x[batch, np.clip(yy, 0, h - 1), np.clip(xx, 0, w - 1)]
        out += np.where(inside, values * weight, 0.0).astype("float32")
    return out


def statistics(normalize: dict, channels: int):
    """``(mean, std)`` as per-channel float32 arrays, or None without normalisation."""
    import numpy as np

    if not normalize:
        return None
    mean = np.broadcast_to(np.asarray(normalize["mean"], "float32"), (channels,))
    std = np.broadcast_to(np.asarray(normalize["std"], "float32"), (channels,))
    return mean.copy(), std.copy()


def normalise(x, stats):
    """``(x - mean) / std`` over the last (channel) axis; ``x`` as it is without ``stats``."""
    if stats is None:
        return x
    mean, std = stats
    return ((x - mean) / std).astype("float32")
