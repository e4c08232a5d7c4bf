"""Numbers in a chapter's prose, and whether a cell backs them.

A chapter's summary may only state numbers that the chapter computes: each decimal, power of ten or
percentage in it must equal, at the precision written, a number that a code cell prints or checks (its
stored output or its source, where asserted bounds live). Integers are left out: they are counts and
shapes that the text derives.
"""
import math
import re

TIMES_POWER = re.compile(r"(\d+(?:\.\d+)?)\s*(?:\\times|×)\s*10\^\{?(−?-?\d+)\}?")
POWER = re.compile(r"(?<![\d.])10\^\{?(−?-?\d+)\}?")
E_FLOAT = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)[eE](−?[-+]?\d+)(?![\w.])")
PERCENT_RANGE = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s*(?:to|–|-)\s*(?=\d+(?:\.\d+)?\s*\\?%)")
PERCENT = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s*\\?%")
DECIMAL = re.compile(r"(?<![\w.])(\d+\.\d+)(?![\d.]|\w)")
ANY_NUMBER = re.compile(r"(?<![\w.])[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


def _sig(text):
    """Significant digits written in a mantissa such as '3', '2.6' or '0.24'."""
    return max(1, len(text.replace(".", "").lstrip("0")))


def prose_numbers(markdown):
    """[(as written, value, significant digits)] for the decimals, powers of ten and percentages in markdown."""
    text = re.sub(r"\{(?:eq|ref|numref|doc|cite:[pt]|prf:ref)\}`[^`]*`", " ", markdown)  # cross-references
    text = re.sub(r"\b\d+\.\d+\.\d+\S*", " ", text)  # version numbers such as 0.10.2
    found = []
    for pattern, value in ((TIMES_POWER, lambda m: float(m[1]) * 10.0 ** int(m[2].replace("−", "-"))),
                           (E_FLOAT, lambda m: float(m[1]) * 10.0 ** int(m[2].replace("−", "-"))),
                           (POWER, lambda m: 10.0 ** int(m[1].replace("−", "-"))),
                           (PERCENT_RANGE, lambda m: float(m[1]) / 100),
                           (PERCENT, lambda m: float(m[1]) / 100),
                           (DECIMAL, lambda m: float(m[1]))):
        for m in pattern.finditer(text):
            found.append((m[0], value(m), _sig(m[1]) if pattern is not POWER else 1))
        text = pattern.sub(" ", text)
    return found


def cell_numbers(texts):
    """Every number in the given texts (outputs and sources), with percentages also as fractions."""
    values = set()
    for text in texts:
        for m in ANY_NUMBER.finditer(text):
            x = float(m[0])
            values.add(abs(x))
            values.add(abs(x) / 100)
    return values


def backed(value, digits, candidates):
    """Whether some candidate rounds to value at the written number of significant digits."""
    def round_sig(x):
        if x == 0:
            return 0.0
        return round(x, digits - 1 - math.floor(math.log10(abs(x))))
    return any(math.isclose(round_sig(c), value, rel_tol=1e-9) for c in candidates)
