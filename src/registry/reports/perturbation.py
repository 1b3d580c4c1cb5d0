"""The cell-key method for counts of people: a pure function from (true count, cell key) to the
count published. No I/O.

Each person-record carries a secret random key in 0..255; a cell's key is the sum of its records'
keys modulo 256, and the public table below moves the cell by -2..+2 for (count, cell key): the
same people always give the same value, one more or one fewer moves it unpredictably. Why this
method: docs/reports.md and the README's privacy rules."""

import random
from typing import Final

from registry.reports.suppression import Cell

HIDDEN: Final = Cell(None, True)

KEY_SPACE: Final = 256
# Perturbation -> how many of the 256 cell keys give it (about 5 %, 20 %, 50 %, 20 %, 5 %).
_SHARES: Final = {-2: 13, -1: 51, 0: 128, 1: 51, 2: 13}
MAX_PERTURBATION: Final = max(_SHARES)


def _table() -> tuple[int, ...]:
    values = [d for d, share in _SHARES.items() for _ in range(share)]
    random.Random(20).shuffle(values)  # noqa: S311 (a fixed, published order: the record keys are the secret)
    return tuple(values)


_TABLE: Final = _table()


def cell_key(key_sum: int) -> int:
    return key_sum % KEY_SPACE


def perturbation(count: int, key: int) -> int:
    """What a cell of `count` people with cell key `key` moves by (never below zero)."""
    if count <= 0:
        return 0
    # The row of the table depends on the count as well, so that one cell key does not move
    # every count the same way.
    return max(-count, _TABLE[(key + 97 * count) % KEY_SPACE])


def perturbed(count: int, key_sum: int) -> int:
    return count + perturbation(count, cell_key(key_sum))


def publish(cell: Cell, key_sum: int, threshold: int) -> Cell:
    """A people count as published: a shown count moved by its perturbation, and hidden when
    that leaves it under the threshold (a hidden count stays hidden; zero stays zero)."""
    if cell.suppressed or not cell.value:
        return cell
    value = perturbed(cell.value, key_sum)
    return Cell(value, False) if value >= threshold else HIDDEN
