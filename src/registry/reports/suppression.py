"""Small-cell suppression for aggregate reports: a pure function from a table of counts of people
to what may be published. No I/O.

A count of 1 .. threshold-1 is never shown (primary suppression); further entries (cells and
totals) are hidden until no hidden entry can be worked out exactly from what is shown, which an
exact audit (a flow-network feasibility question) checks for small tables and whole-line hiding
guarantees by construction for large ones. The algorithm, step by step, is in docs/reports.md.
"""

import functools
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

DEFAULT_THRESHOLD = 11

Position = tuple[int, int]  # (row, column) in the extended grid


@dataclass(frozen=True)
class Cell:
    """One published entry: `value` is None exactly when `suppressed` is true."""

    value: int | None
    suppressed: bool

    def __post_init__(self) -> None:
        if self.suppressed != (self.value is None):
            raise ValueError("a cell's value must be None exactly when it is suppressed")


_HIDDEN = Cell(None, True)


@functools.lru_cache(maxsize=4096)
def _shown(value: int) -> Cell:
    # Cells are immutable: tables share one per value (large tables repeat small counts).
    return Cell(value, False)


def _entry(ext: list[list[int]], hidden: set[Position], i: int, j: int) -> Cell:
    return _HIDDEN if (i, j) in hidden else _shown(ext[i][j])


def _cells(ext: list[list[int]], hidden: set[Position], n_rows: int, n_cols: int) -> list[list[Cell]]:
    rows = []
    for i in range(n_rows):
        values = ext[i]
        rows.append([_HIDDEN if (i, j) in hidden else _shown(values[j]) for j in range(n_cols)])
    return rows


@dataclass(frozen=True)
class SuppressedTable:
    """The publishable form of a table of counts.

    `primary` counts the entries (cells and totals) hidden because they are 1 .. threshold-1;
    `complementary` counts every other hidden entry (cells and totals hidden to protect them).
    """

    cells: list[list[Cell]]
    row_totals: list[Cell]
    column_totals: list[Cell]
    grand_total: Cell
    primary: int
    complementary: int


EXACT_AUDIT_MAX_ENTRIES = 400


def _partner_line(totals: list[int], hidden: set[int]) -> set[int]:
    """A second line to hide with a lone hidden one: the smallest non-zero shown total."""
    if len(hidden) != 1:
        return hidden
    candidates = [(t, k) for k, t in enumerate(totals) if k not in hidden and t > 0]
    if not candidates:
        candidates = [(t, k) for k, t in enumerate(totals) if k not in hidden]
    return hidden | ({min(candidates)[1]} if candidates else set())


def _hide_whole_lines(ext: list[list[int]], primary: set[Position]) -> set[Position]:
    n_rows, n_cols = len(ext) - 1, len(ext[0]) - 1
    if (n_rows, n_cols) in primary:
        return {(i, j) for i in range(n_rows + 1) for j in range(n_cols + 1)}
    rows = {i for i, _ in primary if i < n_rows}
    cols = {j for i, j in primary if i == n_rows and j < n_cols}
    rows = _partner_line([ext[i][n_cols] for i in range(n_rows)], rows)
    cols = _partner_line([ext[n_rows][j] for j in range(n_cols)], cols)
    hidden = {(i, j) for i in rows for j in range(n_cols + 1)}
    hidden |= {(i, j) for j in cols for i in range(n_rows + 1)}
    if rows and cols:
        hidden.add((n_rows, n_cols))
    return hidden


def _finish(ext: list[list[int]], primary: set[Position], hidden: set[Position]) -> "SuppressedTable":
    n_rows, n_cols = len(ext) - 1, len(ext[0]) - 1
    return SuppressedTable(
        cells=_cells(ext, hidden, n_rows, n_cols),
        row_totals=[_entry(ext, hidden, i, n_cols) for i in range(n_rows)],
        column_totals=[_entry(ext, hidden, n_rows, j) for j in range(n_cols)],
        grand_total=_entry(ext, hidden, n_rows, n_cols),
        primary=len(primary),
        complementary=len(hidden) - len(primary),
    )


def suppress_table(counts: Sequence[Sequence[int]], threshold: int = DEFAULT_THRESHOLD) -> SuppressedTable:
    """Suppress a rectangular table of non-negative counts and its margins (see the module doc).

    A single row, a single column and an empty table are all fine. Raises ValueError for a
    threshold below 1, a negative count or ragged rows, TypeError for a count that is not an int.
    """
    _check_threshold(threshold)
    grid = _validated(counts)
    n_rows = len(grid)
    n_cols = len(grid[0]) if grid else 0
    ext = [[*row, sum(row)] for row in grid]
    ext.append([sum(grid[i][j] for i in range(n_rows)) for j in range(n_cols)] + [sum(map(sum, grid))])

    primary = {(i, j) for i in range(n_rows + 1) for j in range(n_cols + 1) if 0 < ext[i][j] < threshold}
    if (n_rows + 1) * (n_cols + 1) > EXACT_AUDIT_MAX_ENTRIES:
        return _finish(ext, primary, _hide_whole_lines(ext, primary))
    hidden = set(primary)
    _close_lines(ext, hidden)
    # Hiding more only removes what a reader knows, so a protected entry stays protected.
    protected: set[Position] = set()
    while True:
        disclosure = _Disclosure(ext, hidden)
        exposed = None
        for entry in sorted(hidden - protected):
            if not disclosure.protected(entry):
                exposed = entry
                break
            protected.add(entry)
        if exposed is None:
            break
        hidden = _protect(ext, hidden, exposed)

    return _finish(ext, primary, hidden)


def suppress_counts(
    counts: Mapping[str, int], threshold: int = DEFAULT_THRESHOLD
) -> tuple[dict[str, Cell], Cell]:
    """One-dimensional suppression: the counts (in the mapping's order) and their total."""
    keys = list(counts)
    table = suppress_table([[counts[key] for key in keys]], threshold)
    return dict(zip(keys, table.cells[0], strict=True)), table.row_totals[0]


def rate(numerator: int | None, denominator: int | None, threshold: int = DEFAULT_THRESHOLD) -> float | None:
    """numerator / denominator rounded to 4 decimals, or None when it must not be published:
    either count suppressed, fewer than `threshold` cases, or a numerator of 1 .. threshold-1."""
    _check_threshold(threshold)
    if numerator is None or denominator is None:
        return None
    if numerator < 0 or denominator < 0:
        raise ValueError("counts cannot be negative")
    if denominator < threshold or 0 < numerator < threshold:
        return None
    return round(numerator / denominator, 4)


def _check_threshold(threshold: int) -> None:
    if isinstance(threshold, bool) or not isinstance(threshold, int):
        raise TypeError("threshold must be an int")
    if threshold < 1:
        raise ValueError("threshold must be at least 1")


def _validated(counts: Sequence[Sequence[int]]) -> list[list[int]]:
    grid = [list(row) for row in counts]
    if grid and any(len(row) != len(grid[0]) for row in grid):
        raise ValueError("all rows of a table must have the same length")
    if all(type(value) is int and value >= 0 for row in grid for value in row):
        return grid  # the common case, checked at once; else find what is wrong
    for row in grid:
        for value in row:
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"counts must be ints, not {type(value).__name__}")
            if value < 0:
                raise ValueError("counts cannot be negative")
    return grid


def _lines(ext: list[list[int]]) -> Iterator[list[Position]]:
    """Every row and every column of the extended grid (members then total)."""
    n_rows, n_cols = len(ext) - 1, len(ext[0]) - 1
    for i in range(n_rows + 1):
        yield [(i, j) for j in range(n_cols + 1)]
    for j in range(n_cols + 1):
        yield [(i, j) for i in range(n_rows + 1)]


def _preference(ext: list[list[int]], position: Position) -> tuple[bool, int, int, int, int]:
    """Sort key of the entries to hide next: non-zero before zero (hiding a zero protects little),
    then interior cells before row/column totals before the grand total, then smaller values,
    then position."""
    i, j = position
    last_row, last_col = len(ext) - 1, len(ext[0]) - 1
    rank = (i == last_row) + (j == last_col)
    return (ext[i][j] == 0, rank, ext[i][j], i, j)


def _close_lines(ext: list[list[int]], hidden: set[Position]) -> None:
    """Rule 2: no line may have exactly one hidden entry."""
    changed = True
    while changed:
        changed = False
        for line in _lines(ext):
            shown = [p for p in line if p not in hidden]
            if len(line) - len(shown) == 1 and shown:
                hidden.add(min(shown, key=lambda p: _preference(ext, p)))
                changed = True


def _protect(ext: list[list[int]], hidden: set[Position], exposed: Position) -> set[Position]:
    """Rule 3: a larger hidden set (closed under rule 2) to protect `exposed`.

    Tries hiding each shown entry in turn and keeps the one that protects `exposed` with the
    fewest entries hidden in all, ties broken by `_preference`. When no single entry does, hides
    the preferred shown entry of `exposed`'s own lines (or of the grid) and lets the next round
    go on from there.
    """
    grid = [(i, j) for i in range(len(ext)) for j in range(len(ext[0]))]
    shown = sorted((p for p in grid if p not in hidden), key=lambda p: _preference(ext, p))
    best: set[Position] | None = None
    for candidate in shown:
        trial = hidden | {candidate}
        _close_lines(ext, trial)
        if (best is None or len(trial) < len(best)) and _Disclosure(ext, trial).protected(exposed):
            best = trial
    if best is not None:
        return best
    if not shown:  # unreachable: with everything hidden, every entry is protected
        raise RuntimeError(f"cannot protect entry {exposed}")
    near = [p for p in shown if p[0] == exposed[0] or p[1] == exposed[1]]
    trial = hidden | {(near or shown)[0]}
    _close_lines(ext, trial)
    return trial


class _Disclosure:
    """What a reader can infer from the shown entries, as a flow network.

    The unknowns are the hidden cells, each an arc row_i -> col_j with flow >= 0. A shown row
    total fixes the flow source -> row_i to what the shown cells of the row leave; a hidden one
    is an arc pool -> row_i, and source -> pool carries the rows with hidden totals, fixed when
    the grand total is shown. Columns mirror this into the sink (their pool's arc is free). An arc
    sink -> source makes it a circulation. Every hidden entry is the flow on one arc, and it is
    protected when a feasible integer circulation exists with that flow lowered or raised by
    one. The network is totally unimodular, so real feasibility (a max-flow question) is integer
    feasibility.
    """

    SOURCE, SINK, ROW_POOL, COL_POOL = 0, 1, 2, 3

    def __init__(self, ext: list[list[int]], hidden: set[Position]) -> None:
        n_rows, n_cols = len(ext) - 1, len(ext[0]) - 1
        self.n_nodes = 4 + n_rows + n_cols
        # Enough to stand for "unbounded": no feasible circulation needs more on any arc.
        self.big = 8 * (ext[n_rows][n_cols] + 1)
        self.arcs: list[tuple[int, int, int, int]] = []  # (tail, head, lower, upper)
        self.arc_of: dict[Position, int] = {}
        self.flow_of: dict[Position, int] = {}

        def row(i: int) -> int:
            return 4 + i

        def col(j: int) -> int:
            return 4 + n_rows + j

        self._arc(self.SINK, self.SOURCE, 0, self.big)
        for i in range(n_rows):
            for j in range(n_cols):
                if (i, j) in hidden:
                    self._arc(row(i), col(j), 0, self.big, (i, j), ext[i][j])
        pooled = 0
        for i in range(n_rows):
            rest = ext[i][n_cols] - sum(ext[i][j] for j in range(n_cols) if (i, j) not in hidden)
            if (i, n_cols) in hidden:
                self._arc(self.ROW_POOL, row(i), 0, self.big, (i, n_cols), rest)
                pooled += rest
            else:
                self._arc(self.SOURCE, row(i), rest, rest)
        if (n_rows, n_cols) in hidden:
            self._arc(self.SOURCE, self.ROW_POOL, 0, self.big, (n_rows, n_cols), pooled)
        else:
            self._arc(self.SOURCE, self.ROW_POOL, pooled, pooled)
        for j in range(n_cols):
            rest = ext[n_rows][j] - sum(ext[i][j] for i in range(n_rows) if (i, j) not in hidden)
            if (n_rows, j) in hidden:
                self._arc(col(j), self.COL_POOL, 0, self.big, (n_rows, j), rest)
            else:
                self._arc(col(j), self.SINK, rest, rest)
        self._arc(self.COL_POOL, self.SINK, 0, self.big)

    def _arc(
        self, tail: int, head: int, lower: int, upper: int, entry: Position | None = None, flow: int = 0
    ) -> None:
        if entry is not None:
            self.arc_of[entry] = len(self.arcs)
            self.flow_of[entry] = flow
        self.arcs.append((tail, head, lower, upper))

    def protected(self, entry: Position) -> bool:
        arc, flow = self.arc_of[entry], self.flow_of[entry]
        return (flow > 0 and self._feasible(arc, 0, flow - 1)) or self._feasible(arc, flow + 1, self.big)

    def _feasible(self, arc: int, lower: int, upper: int) -> bool:
        """Does a circulation exist with the given arc's bounds replaced by [lower, upper]?"""
        source, sink = self.n_nodes, self.n_nodes + 1
        capacity = [[0] * (self.n_nodes + 2) for _ in range(self.n_nodes + 2)]
        excess = [0] * self.n_nodes
        for index, (tail, head, low, high) in enumerate(self.arcs):
            if index == arc:
                low, high = lower, upper
            capacity[tail][head] += high - low
            excess[head] += low
            excess[tail] -= low
        needed = 0
        for node, amount in enumerate(excess):
            if amount > 0:
                capacity[source][node] += amount
                needed += amount
            elif amount < 0:
                capacity[node][sink] -= amount
        return _max_flow(capacity, source, sink, needed) == needed


def _max_flow(residual: list[list[int]], source: int, sink: int, enough: int) -> int:
    """Edmonds-Karp on a capacity matrix (changed in place); stops once `enough` flows."""
    n_nodes = len(residual)
    total = 0
    while total < enough:
        parent = [-1] * n_nodes
        parent[source] = source
        queue = deque([source])
        while queue and parent[sink] == -1:
            u = queue.popleft()
            for v, capacity in enumerate(residual[u]):
                if capacity > 0 and parent[v] == -1:
                    parent[v] = u
                    queue.append(v)
        if parent[sink] == -1:
            break
        bottleneck = enough - total
        v = sink
        while v != source:
            bottleneck = min(bottleneck, residual[parent[v]][v])
            v = parent[v]
        v = sink
        while v != source:
            residual[parent[v]][v] -= bottleneck
            residual[v][parent[v]] += bottleneck
            v = parent[v]
        total += bottleneck
    return total
