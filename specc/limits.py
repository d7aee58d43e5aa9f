"""Every resource bound of the front end, as named constants (no imports, no side effects).

A spec that crosses a limit gets a located error with the limit's own code, never a crash, a
hang or an unbounded allocation.  The limits are chosen so that every real spec is far inside
them: the largest spec under ``specs/`` is a few kilobytes, nests three levels deep and has
numbers of at most seven digits.  Each error names its limit, and the README lists them all
("Limits").

The syntax-level limits (E01xx) and the expansion limits of blocks and ``repeat`` (E05xx)
live here with their codes.
"""

from __future__ import annotations

# -- the file ---------------------------------------------------------------------------------

# A spec file of more than this many bytes (UTF-8) is refused before it is parsed: E0112.
# 8 MiB holds ~200,000 layer lines of 40 characters; a hand-written spec is a few kilobytes.
MAX_SOURCE_BYTES = 8 * 1024 * 1024
E_SOURCE_TOO_LARGE = "E0112"

# Tokens (names, numbers, sizes, strings, brackets, operators, separators) in one file: E0113.
# The parse stops at the first token past the limit, so its time and memory stay bounded
# whatever the file holds; a 50,000-layer spec of `conv 64 3x3 padding=same relu` lines has
# 350,000.
MAX_TOKENS = 1_000_000
E_TOO_MANY_TOKENS = "E0113"

# -- tokens -----------------------------------------------------------------------------------

# Digits in one number (all of them: integer part, fraction and exponent): E0105.  40 digits
# hold any 128-bit integer; a float literal that overflows to infinity is refused the same way.
MAX_NUMBER_DIGITS = 40
E_NUMBER_TOO_LONG = "E0105"

# A decimal digit that is not ASCII 0-9 (`１０`, `٣`): E0106, naming the character.
E_NON_ASCII_DIGIT = "E0106"

# Axes in one size written `AxBxC`: E0110.
MAX_AXES = 8
E_TOO_MANY_AXES = "E0110"

# Characters in one name (layer kind, layer or model name, key, block or parameter): E0109.
MAX_NAME_LENGTH = 128
E_NAME_TOO_LONG = "E0109"

# Characters in one string literal (`"npz:PATH"`): E0111 (PATH_MAX on Linux is 4096 bytes).
MAX_STRING_LENGTH = 4096
E_STRING_TOO_LONG = "E0111"

# Arguments of one statement, block call or block definition, and `{ }` clauses of one
# statement: E0114.  A layer takes a handful; a long list would only multiply diagnostics.
MAX_ARGUMENTS = 256
E_TOO_MANY_ARGUMENTS = "E0114"

# -- structure --------------------------------------------------------------------------------

# Open brackets at once, `{` and `(` together: E0107.  Every stage after the parser walks the
# tree recursively; this bound keeps them far from Python's recursion limit.
MAX_NESTING_DEPTH = 64
E_NESTING_TOO_DEEP = "E0107"

# Operators in one parenthesised expression (`(f * 4 + 1)` has two; `and`, `or` and `not`
# count too): E0108.  A chain `a + a + ... + a` is a tree as deep as it is long.
MAX_EXPRESSION_OPERATORS = 64
E_EXPRESSION_TOO_LONG = "E0108"

# -- expansion (expand.py, expansion.py) ------------------------------------------------------

# How deep block calls may nest: a guard against mutual recursion, reported as recursion
# (E0504, the error of a block that uses itself).
MAX_BLOCK_DEPTH = 32

# How deep bodies may nest, counting { } bodies and block calls together: E0507.
MAX_DEPTH = 96
E_EXPANSION_TOO_DEEP = "E0507"

# Expansion steps (statements expanded, iterations, calls), even ones that add no layers, before
# giving up: E0509.  `repeat 1000000000000 { }` stops here instead of running for hours.
MAX_STEPS = 1_000_000
E_TOO_MANY_STEPS = "E0509"

# Layers in a model: E0505.
MAX_NODES = 200_000
E_TOO_MANY_LAYERS = "E0505"

# -- reporting --------------------------------------------------------------------------------

# Syntax errors reported per file; recovery re-parses the file after each one, so it also
# stops once it has re-read MAX_RECOVERY_CHARS characters in all.
MAX_SYNTAX_ERRORS = 20
MAX_RECOVERY_CHARS = 16 * 1024 * 1024

# Diagnostics shown per file (text and JSON); the count line still counts them all.
MAX_REPORTED_DIAGNOSTICS = 100

# A diagnostic quotes at most this many characters of any one word of its message, labels,
# notes and help (a longer word is shown as its start, "…" and its end), and at most
# MAX_MESSAGE_CHARS in all of one message.
MAX_ECHO_CHARS = 200
MAX_MESSAGE_CHARS = 2000

# The rendered source line under a diagnostic shows at most this many columns around its
# labels; the rest of a longer line is elided with "…".
MAX_SHOWN_COLUMNS = 120

# -- plausibility warnings (passes.check_sizes) -----------------------------------------------

# A layer with more parameters, or an output (activation) with more elements per sample, than
# this gets a warning with the figure: the largest published models have ~10^12 parameters in
# all, spread over thousands of layers; no single layer of a real model comes near 10^10.
WARN_LAYER_PARAMS = 10**10
W_LAYER_PARAMS = "W0301"
WARN_ACTIVATION_ELEMENTS = 10**10
W_ACTIVATION_ELEMENTS = "W0302"
