"""Datasets made on the spot, deterministic and offline, each with structure a model can learn:

- ``shapes[:N]``: images of one or two discs (dimmer) and squares (brighter) on a noisy
  background, at the model's input size, with their masks (0 background, 1 disc, 2 square):
  per-pixel segmentation;
- ``chunks[:N]``: token sequences tagged O, B or I: a token of 10..19 begins a chunk (B) when
  the token before it is not one, continues it (I) when it is; 0..9 are outside (O);
- ``corpus[:N]``: English-like sentences from a small grammar, character by character, for
  next-character language modelling;
- ``text:PATH``: any UTF-8 text file, character by character (its sorted characters are the
  vocabulary).

``N`` is the number of training samples (windows of the model's input length for text);
a quarter as many more are the test set.  Everything is drawn from fixed seeds, independent
of the training seed.
"""

from __future__ import annotations

import numpy as np

from .errors import DataError

GENERATED_SEED = 12  # fixed: every run and both frameworks see the same data
DEFAULT_COUNTS = {"shapes": 1200, "chunks": 2000, "corpus": 1500}
CHUNK_VOCAB, CHUNK_TAGS = 20, 3
# the corpus's characters: newline, space, comma, full stop, then a..z
CORPUS_ALPHABET = "\n ,." + "".join(chr(c) for c in range(ord("a"), ord("z") + 1))
_WORDS = {
    "det": ("the", "a", "every", "some", "this", "that"),
    "adj": ("small", "big", "red", "green", "old", "young", "quiet", "happy", "dark", "bright"),
    "noun": ("cat", "dog", "bird", "house", "tree", "river", "child", "teacher", "garden",
             "window", "boat", "city"),
    "verb": ("sees", "likes", "finds", "follows", "watches", "paints", "visits", "hears"),
    "prep": ("near", "under", "behind", "beside", "over"),
    "adv": ("slowly", "quietly", "often", "today", "again"),
}  # fmt: skip


def count_of(name: str) -> int:
    """The ``N`` of ``shapes:N`` (the default without one); a DataError when it is not one."""
    base, _, count = name.partition(":")
    if not count:
        return DEFAULT_COUNTS[base]
    if not count.isdigit() or int(count) < 2:
        raise DataError(f"{name}: write {base} or {base}:N with N >= 2 training samples")
    return int(count)


def _split(x, y, count):
    return x[:count], y[:count], x[count:], y[count:]


def shapes(name: str, shape: tuple[int, ...]):
    """Images of ``shape`` (HxWx1 or HxWx3) and their HxW masks."""
    if len(shape) != 3 or shape[2] not in (1, 3) or min(shape[:2]) < 8:
        raise DataError(
            f"{name} makes images of at least 8x8 with 1 or 3 channels, not "
            f"{'x'.join(map(str, shape))}"
        )
    count = count_of(name)
    total = count + max(1, count // 4)
    h, w, c = shape
    rng = np.random.default_rng(GENERATED_SEED)
    x = rng.uniform(0.0, 0.25, size=(total, h, w, c)).astype("float32")
    y = np.zeros((total, h, w), dtype="int64")
    rows, cols = np.mgrid[0:h, 0:w]
    side = min(h, w)
    for i in range(total):
        for _ in range(rng.integers(1, 3)):
            label = int(rng.integers(1, 3))
            radius = rng.uniform(0.14, 0.28) * side
            cy, cx = rng.uniform(radius, h - radius), rng.uniform(radius, w - radius)
            if label == 1:
                inside = (rows - cy) ** 2 + (cols - cx) ** 2 <= radius**2
            else:
                inside = (np.abs(rows - cy) <= radius * 0.85) & (np.abs(cols - cx) <= radius * 0.85)
            # discs are the dimmer shapes, squares the brighter: shape and shade both tell
            low, high = (0.45, 0.65) if label == 1 else (0.8, 1.0)
            colour = rng.uniform(low, high, size=c).astype("float32")
            x[i][inside] = colour
            y[i][inside] = label
    x += rng.normal(0.0, 0.05, size=x.shape).astype("float32")
    return _split(np.clip(x, 0.0, 1.0), y, count)


def chunks(name: str, length: int):
    """Token sequences of ``length`` and their O/B/I tags."""
    count = count_of(name)
    total = count + max(1, count // 4)
    rng = np.random.default_rng(GENERATED_SEED)
    x = np.zeros((total, length), dtype="int64")
    inside = np.zeros(total, dtype=bool)
    for t in range(length):
        # stay in a chunk with probability 0.7, enter one with 0.3
        inside = np.where(inside, rng.random(total) < 0.7, rng.random(total) < 0.3)
        half = CHUNK_VOCAB // 2
        x[:, t] = rng.integers(0, half, size=total) + np.where(inside, half, 0)
    return _split(x, tags_of(x), count)


def tags_of(x: np.ndarray) -> np.ndarray:
    """The O (0), B (1), I (2) tags of token sequences (the rule ``chunks`` follows)."""
    half = CHUNK_VOCAB // 2
    chunk = x >= half
    before = np.concatenate([np.zeros((len(x), 1), bool), chunk[:, :-1]], axis=1)
    return np.where(chunk, np.where(before, 2, 1), 0).astype("int64")


def corpus_text(characters: int, seed: int = GENERATED_SEED) -> str:
    """At least ``characters`` characters of sentences from the corpus's grammar."""
    rng = np.random.default_rng(seed)

    def pick(kind):
        words = _WORDS[kind]
        return words[int(rng.integers(len(words)))]

    def phrase():
        words = [pick("det")]
        if rng.random() < 0.5:
            words.append(pick("adj"))
        words.append(pick("noun"))
        return words

    parts: list[str] = []
    size = 0
    while size < characters:
        sentence = " ".join([*phrase(), pick("verb"), *phrase()])
        if rng.random() < 0.4:
            glue = ", " if rng.random() < 0.5 else " "
            sentence += glue + " ".join([pick("prep"), *phrase()])
        if rng.random() < 0.3:
            sentence += " " + pick("adv")
        sentence += ".\n" if rng.random() < 0.25 else ". "
        parts.append(sentence)
        size += len(sentence)
    return "".join(parts)


def windows(ids: np.ndarray, length: int, count: int | None = None):
    """Inputs ``ids[i : i + length]`` and their next tokens ``ids[i + 1 : i + length + 1]``,
    one window every ``length`` tokens (the first ``count`` windows when given)."""
    usable = (len(ids) - 1) // length
    if count is not None:
        usable = min(usable, count)
    starts = np.arange(usable) * length
    index = starts[:, None] + np.arange(length)[None, :]
    return ids[index], ids[index + 1]


def corpus(name: str, length: int):
    """The corpus as next-character windows of ``length``."""
    count = count_of(name)
    total = count + max(1, count // 4)
    text = corpus_text(total * length + 1)
    ids = encode(text, CORPUS_ALPHABET)
    x, y = windows(ids, length, total)
    return _split(x, y, count), CORPUS_ALPHABET


def encode(text: str, alphabet: str) -> np.ndarray:
    """The ids of ``text``'s characters in ``alphabet``."""
    table = {ch: i for i, ch in enumerate(alphabet)}
    return np.fromiter((table[ch] for ch in text), dtype="int64", count=len(text))


def text_file(path: str, length: int, vocab: int | None, test_fraction: float):
    """A text file as next-character windows: the last ``test_fraction`` of the windows is
    the test set.  Returns the four arrays and the vocabulary (its sorted characters)."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        raise DataError(f"text:{path}: no such file") from None
    except IsADirectoryError:
        raise DataError(f"text:{path} is a folder, not a text file") from None
    except UnicodeDecodeError as exc:
        raise DataError(
            f"text:{path} is not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from None
    except OSError as exc:
        raise DataError(f"cannot read text:{path}: {exc.strerror or exc}") from None
    alphabet = "".join(sorted(set(text)))
    if vocab is not None and len(alphabet) > vocab:
        raise DataError(
            f"text:{path} has {len(alphabet)} different characters but the model's vocabulary "
            f"is {vocab} (its `embedding` and last layer): make both at least {len(alphabet)}"
        )
    x, y = windows(encode(text, alphabet), length)
    if len(x) < 2:
        raise DataError(
            f"text:{path} has {len(text)} characters: too few for two windows of {length} "
            f"(the model's input length) and their next characters"
        )
    cut = len(x) - max(1, round(len(x) * test_fraction))
    return (x[:cut], y[:cut], x[cut:], y[cut:]), alphabet
