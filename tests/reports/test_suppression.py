"""Small-cell suppression: hand-checked tables, and properties over random tables checked by an
exact reader (below) that works out everything the shown entries imply."""

import itertools
from collections import deque
from collections.abc import Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from registry.reports.suppression import (
    DEFAULT_THRESHOLD,
    Cell,
    SuppressedTable,
    rate,
    suppress_counts,
    suppress_table,
)

Entry = tuple[int, int]  # (row, column) in the grid extended with its margins
Shown = list[list[int | None]]

H = None  # a hidden entry, in expected grids


# --- helpers ------------------------------------------------------------------------------------


def extended(counts: Sequence[Sequence[int]]) -> list[list[int]]:
    """The true table with row totals as a last column and column totals (and grand) as a last row."""
    n_cols = len(counts[0]) if counts else 0
    grid = [[*row, sum(row)] for row in counts]
    grid.append([sum(row[j] for row in counts) for j in range(n_cols)] + [sum(sum(row) for row in counts)])
    return grid


def shown_grid(table: SuppressedTable) -> Shown:
    """What a reader sees, in the same extended layout (None where hidden)."""
    grid: Shown = [
        [cell.value for cell in row] + [total.value]
        for row, total in zip(table.cells, table.row_totals, strict=True)
    ]
    grid.append([cell.value for cell in table.column_totals] + [table.grand_total.value])
    return grid


def entries(grid: Sequence[Sequence[object]]) -> list[Entry]:
    return [(i, j) for i in range(len(grid)) for j in range(len(grid[0]))]


def hidden_entries(grid: Shown) -> list[Entry]:
    return [(i, j) for i, j in entries(grid) if grid[i][j] is None]


def mask(grid: list[list[int]], hidden: set[Entry]) -> Shown:
    return [
        [None if (i, j) in hidden else value for j, value in enumerate(row)] for i, row in enumerate(grid)
    ]


class Reader:
    """An adversary who knows every shown entry, that cells are non-negative integers and that
    totals are sums, and asks which values a hidden entry can take.

    Independent of the module's own audit: the grand total is modelled on the column side here,
    and the flow code (dictionaries, Edmonds-Karp) is separate. Each hidden cell is an arc
    r_i -> c_j; a row total is the arc s -> r_i, a column total c_j -> pool, the grand total
    pool -> t (fixed when shown, with the shown cells taken off), and t -> s closes a
    circulation. Flow networks are totally unimodular, so a real circulation within integer
    bounds means an integer table.
    """

    def __init__(self, shown: Shown) -> None:
        self.shown = shown
        self.n_rows, self.n_cols = len(shown) - 1, len(shown[0]) - 1

    def _arcs(self) -> dict[Entry, tuple[str, str, int | None, int]]:
        """Each entry's arc, the fixed flow on it when the entry is shown (None: free), and
        the offset: the entry's value is the offset (its shown members) plus the arc's flow."""
        shown, n_rows, n_cols = self.shown, self.n_rows, self.n_cols

        def known(values: list[int | None]) -> int:
            return sum(v for v in values if v is not None)

        def fixed(total: int | None, offset: int) -> int | None:
            return None if total is None else total - offset

        arcs: dict[Entry, tuple[str, str, int | None, int]] = {}
        for i, j in itertools.product(range(n_rows), range(n_cols)):
            if shown[i][j] is None:
                arcs[i, j] = (f"r{i}", f"c{j}", None, 0)
        for i in range(n_rows):
            offset = known(shown[i][:n_cols])
            arcs[i, n_cols] = ("s", f"r{i}", fixed(shown[i][n_cols], offset), offset)
        column_rest = 0
        for j in range(n_cols):
            offset = known([shown[i][j] for i in range(n_rows)])
            rest = fixed(shown[n_rows][j], offset)
            if rest is None:
                arcs[n_rows, j] = (f"c{j}", "pool", None, offset)
            else:
                arcs[n_rows, j] = (f"c{j}", "t", rest, offset)
                column_rest += rest
        offset = (
            known([shown[i][j] for i, j in itertools.product(range(n_rows), range(n_cols))]) + column_rest
        )
        arcs[n_rows, n_cols] = ("pool", "t", fixed(shown[n_rows][n_cols], offset), offset)
        return arcs

    def feasible(self, entry: Entry, low: int, high: int | None) -> bool:
        """Is there a table agreeing with everything shown whose `entry` is in [low, high]
        (high None: unbounded)?"""
        bounds: list[tuple[str, str, int, int | None]] = [("t", "s", 0, None)]
        for key, (tail, head, rest, offset) in self._arcs().items():
            if key == entry:
                if rest is not None:
                    raise ValueError(f"{entry} is shown")
                if high is not None and high < max(low, offset):
                    return False
                bounds.append((tail, head, max(low - offset, 0), None if high is None else high - offset))
            elif rest is None:
                bounds.append((tail, head, 0, None))
            elif rest < 0:
                return False
            else:
                bounds.append((tail, head, rest, rest))
        # Lower bounds -> demands; "unbounded" only needs to exceed every demand.
        unbounded = 2 * sum(lo for _, _, lo, _ in bounds) + 1
        residual: dict[str, dict[str, int]] = {}
        demand: dict[str, int] = {}

        def add(tail: str, head: str, capacity: int) -> None:
            residual.setdefault(tail, {}).setdefault(head, 0)
            residual.setdefault(head, {}).setdefault(tail, 0)
            residual[tail][head] += capacity

        for tail, head, lo, hi in bounds:
            add(tail, head, (unbounded if hi is None else hi) - lo)
            demand[head] = demand.get(head, 0) + lo
            demand[tail] = demand.get(tail, 0) - lo
        needed = 0
        for node, amount in demand.items():
            if amount > 0:
                add("S*", node, amount)
                needed += amount
            elif amount < 0:
                add(node, "T*", -amount)
        return needed == 0 or edmonds_karp(residual, "S*", "T*") == needed

    def determined(self, entry: Entry, true_value: int) -> bool:
        can_be_lower = true_value > 0 and self.feasible(entry, 0, true_value - 1)
        return not can_be_lower and not self.feasible(entry, true_value + 1, None)

    def value_range(self, entry: Entry, true_value: int, limit: int) -> tuple[int, int]:
        """The least and greatest value `entry` can take (the greatest capped at `limit`)."""
        low, high = 0, true_value  # least m with a solution <= m
        while low < high:
            middle = (low + high) // 2
            low, high = (low, middle) if self.feasible(entry, 0, middle) else (middle + 1, high)
        least = low
        low, high = true_value, limit  # greatest m with a solution >= m
        while low < high:
            middle = (low + high + 1) // 2
            low, high = (middle, high) if self.feasible(entry, middle, None) else (low, middle - 1)
        return least, low


def edmonds_karp(residual: dict[str, dict[str, int]], source: str, sink: str) -> int:
    total = 0
    while True:
        parent: dict[str, str] = {source: source}
        queue = deque([source])
        while queue and sink not in parent:
            node = queue.popleft()
            for nxt, capacity in residual[node].items():
                if capacity > 0 and nxt not in parent:
                    parent[nxt] = node
                    queue.append(nxt)
        if sink not in parent:
            return total
        path = [sink]
        while path[-1] != source:
            path.append(parent[path[-1]])
        path.reverse()
        push = min(residual[a][b] for a, b in itertools.pairwise(path))
        for a, b in itertools.pairwise(path):
            residual[a][b] -= push
            residual[b][a] += push
        total += push


def brute_force(shown: Shown) -> dict[Entry, set[int]]:
    """Every value each hidden entry takes over all tables agreeing with `shown`, by enumeration.
    Needs the grand total shown (it bounds every cell, so the enumeration is complete)."""
    n_rows, n_cols = len(shown) - 1, len(shown[0]) - 1
    grand = shown[n_rows][n_cols]
    assert grand is not None
    unknown = [(i, j) for i, j in itertools.product(range(n_rows), range(n_cols)) if shown[i][j] is None]
    values: dict[Entry, set[int]] = {entry: set() for entry in hidden_entries(shown)}

    def bound(i: int, j: int) -> int:  # a cell is at most any shown total it is part of
        return min(v for v in (shown[i][n_cols], shown[n_rows][j], grand) if v is not None)

    for guess in itertools.product(*(range(bound(i, j) + 1) for i, j in unknown)):
        table = [[v if v is not None else 0 for v in row[:n_cols]] for row in shown[:n_rows]]
        for (i, j), value in zip(unknown, guess, strict=True):
            table[i][j] = value
        full = extended(table)
        if all(
            v is None or v == full[i][j]
            for (i, j), v in zip(entries(shown), itertools.chain(*shown), strict=True)
        ):
            for i, j in values:
                values[i, j].add(full[i][j])
    return values


def assert_protected(counts: Sequence[Sequence[int]], table: SuppressedTable) -> None:
    true, shown = extended(counts), shown_grid(table)
    reader = Reader(shown)
    for i, j in hidden_entries(shown):
        assert not reader.determined((i, j), true[i][j]), f"entry {(i, j)} of {counts} can be worked out"


# --- the reader itself ---------------------------------------------------------------------------


def test_reader_sees_a_lone_hidden_cell() -> None:
    grid = extended([[5, 20], [40, 50]])
    reader = Reader(mask(grid, {(0, 0)}))
    assert reader.determined((0, 0), 5)
    assert reader.value_range((0, 0), 5, 115) == (5, 5)


def test_reader_ranges_of_a_hidden_rectangle() -> None:
    grid = extended([[5, 20, 30], [40, 50, 60]])
    reader = Reader(mask(grid, {(0, 0), (0, 1), (1, 0), (1, 1)}))
    limit = grid[2][3]
    assert reader.value_range((0, 0), 5, limit) == (0, 25)
    assert reader.value_range((0, 1), 20, limit) == (0, 25)
    assert reader.value_range((1, 0), 40, limit) == (20, 45)
    assert reader.value_range((1, 1), 50, limit) == (45, 70)


def test_reader_sees_values_pinned_by_non_negativity() -> None:
    # x00 + x01 = 5 and x00 + x10 = 5 and x10 + x11 = 0: x10 = x11 = 0, so x00 = 5.
    grid = extended([[5, 0], [0, 0]])
    reader = Reader(mask(grid, {(0, 0), (0, 1), (1, 0), (1, 1)}))
    assert reader.determined((0, 0), 5)
    assert reader.determined((1, 0), 0)


def test_reader_sees_a_total_implied_by_other_totals() -> None:
    grid = extended([[5, 20], [40, 50]])
    assert Reader(mask(grid, {(2, 2)})).determined((2, 2), 115)  # grand = sum of row totals
    assert Reader(mask(grid, {(0, 2)})).determined((0, 2), 25)  # a row total from its cells
    both = mask(grid, {(0, 2), (1, 2), (2, 2), (2, 0), (2, 1)})  # only the cells shown
    assert Reader(both).determined((2, 2), 115)


def test_reader_with_everything_hidden_knows_nothing() -> None:
    grid = extended([[5, 0], [0, 7]])
    shown = mask(grid, set(entries(grid)))
    reader = Reader(shown)
    for i, j in entries(grid):
        assert not reader.determined((i, j), grid[i][j])
    assert reader.value_range((1, 1), 7, 1000) == (0, 1000)  # unbounded: only capped


@st.composite
def masked_small_tables(draw: st.DrawFn) -> Shown:
    n_rows, n_cols = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    counts = [[draw(st.integers(0, 3)) for _ in range(n_cols)] for _ in range(n_rows)]
    grid = extended(counts)
    cells = list(itertools.product(range(n_rows), range(n_cols)))
    margins = [(i, n_cols) for i in range(n_rows)] + [(n_rows, j) for j in range(n_cols)]
    hidden = draw(st.sets(st.sampled_from(cells), max_size=4)) | draw(st.sets(st.sampled_from(margins)))
    return mask(grid, hidden)


@settings(max_examples=400, deadline=None)
@given(masked_small_tables())
def test_reader_agrees_with_brute_force(shown: Shown) -> None:
    truth = brute_force(shown)
    n_rows, n_cols = len(shown) - 1, len(shown[0]) - 1
    grand = shown[n_rows][n_cols]
    assert grand is not None
    reader = Reader(shown)
    for entry, possible in truth.items():
        some_value = min(possible)  # any true value: the table is consistent by construction
        assert reader.value_range(entry, some_value, grand) == (
            min(possible),
            max(possible),
        ), entry
        assert reader.determined(entry, some_value) == (len(possible) == 1)


# --- hand-checked tables --------------------------------------------------------------------------


def test_a_single_small_cell_forces_a_second_cell_in_its_row_and_column() -> None:
    counts = [[5, 20, 30], [40, 50, 60]]
    table = suppress_table(counts)
    assert shown_grid(table) == [
        [H, H, 30, 55],
        [H, H, 60, 150],
        [45, 70, 90, 205],
    ]
    assert (table.primary, table.complementary) == (1, 3)
    assert table.cells[0][0] == Cell(None, True)
    assert table.cells[0][2] == Cell(30, False)
    assert_protected(counts, table)


def test_nothing_small_nothing_hidden() -> None:
    counts = [[11, 20], [0, 12]]
    table = suppress_table(counts)
    assert shown_grid(table) == [[11, 20, 31], [0, 12, 12], [11, 32, 43]]
    assert (table.primary, table.complementary) == (0, 0)


def test_a_whole_small_row_and_its_totals() -> None:
    counts = [[3, 2], [0, 0]]
    table = suppress_table(counts)
    # Every non-zero entry is 1..10; the zero row stays shown.
    assert shown_grid(table) == [[H, H, H], [0, 0, 0], [H, H, H]]
    assert (table.primary, table.complementary) == (6, 0)
    assert_protected(counts, table)


def test_small_totals_are_suppressed_and_protected() -> None:
    counts = [[6, 0], [0, 30]]
    table = suppress_table(counts)
    # Row 0 and column 0 total 6; hiding them alone would give them away through the grand
    # total, so the other margins (and the 30 behind them) go too; only 0, 0 and 36 remain.
    assert shown_grid(table) == [[H, 0, H], [0, H, H], [H, H, 36]]
    assert (table.primary, table.complementary) == (3, 3)
    assert_protected(counts, table)


def test_a_single_column() -> None:
    counts = [[3], [4], [20]]
    table = suppress_table(counts)
    assert shown_grid(table) == [[H, H], [H, H], [20, 20], [27, 27]]
    assert (table.primary, table.complementary) == (4, 0)
    assert_protected(counts, table)


def test_zero_rows_are_shown_and_a_zero_column_hides_its_total_instead() -> None:
    counts = [[0, 0, 0], [5, 20, 30]]
    table = suppress_table(counts)
    # Column 1 needs a second hidden entry; its other cell is 0, so its total goes.
    assert shown_grid(table) == [[0, 0, 0, 0], [H, H, 30, 55], [H, H, 30, 55]]
    assert (table.primary, table.complementary) == (2, 2)
    assert_protected(counts, table)


def test_all_zero_table() -> None:
    table = suppress_table([[0, 0, 0], [0, 0, 0]])
    assert shown_grid(table) == [[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]
    assert (table.primary, table.complementary) == (0, 0)


def test_a_total_implied_by_other_margins_is_caught_by_the_audit() -> None:
    # Rows 0 and 1 hold 1 + 1. After rules 1 and 2 every line has two hidden entries, yet
    # column 0's total (= row 0 + row 1 totals = grand 17 - row 2 total 15) could be worked
    # out. The exact audit hides row 2's total too (one more entry, and the grand total stays).
    counts = [[1, 0, 0], [1, 0, 0], [0, 12, 3]]
    table = suppress_table(counts)
    assert shown_grid(table) == [
        [H, 0, 0, H],
        [H, 0, 0, H],
        [0, H, H, H],
        [H, H, H, 17],
    ]
    assert (table.primary, table.complementary) == (7, 3)
    assert_protected(counts, table)


def test_a_sparse_table_is_protected_without_hiding_zeros() -> None:
    # Rules 1 and 2 leave 10 = (row 2 + row 3 totals) - (5 + 8) = (182 - 95 - 0 - 64) - 13
    # exposed; the audit hides column 3's total (62) rather than a cascade of zeros.
    counts = [
        [0, 0, 0, 49, 46, 0],
        [0, 0, 0, 0, 0, 0],
        [0, 10, 0, 5, 0, 0],
        [0, 0, 0, 8, 0, 0],
        [0, 34, 0, 0, 0, 30],
    ]
    table = suppress_table(counts)
    assert shown_grid(table) == [
        [0, 0, 0, 49, 46, 0, 95],
        [0, 0, 0, 0, 0, 0, 0],
        [0, H, 0, H, 0, 0, H],
        [0, 0, 0, H, 0, 0, H],
        [0, H, 0, 0, 0, H, 64],
        [0, H, 0, H, 46, H, 182],
    ]
    assert (table.primary, table.complementary) == (4, 6)
    assert_protected(counts, table)


def test_a_single_cell_table() -> None:
    assert shown_grid(suppress_table([[7]])) == [[H, H], [H, H]]
    assert suppress_table([[7]]).primary == 4
    assert shown_grid(suppress_table([[12]])) == [[12, 12], [12, 12]]
    assert shown_grid(suppress_table([[0]])) == [[0, 0], [0, 0]]


def test_empty_tables() -> None:
    empty = suppress_table([])
    assert empty == SuppressedTable(
        cells=[], row_totals=[], column_totals=[], grand_total=Cell(0, False), primary=0, complementary=0
    )
    no_columns = suppress_table([[], []])
    assert no_columns.cells == [[], []]
    assert no_columns.row_totals == [Cell(0, False), Cell(0, False)]
    assert no_columns.column_totals == []
    assert no_columns.grand_total == Cell(0, False)


@pytest.mark.parametrize(
    ("threshold", "expected"),
    [
        (1, [[5, 20, 25], [40, 50, 90], [45, 70, 115]]),
        (5, [[5, 20, 25], [40, 50, 90], [45, 70, 115]]),
        (6, [[H, H, 25], [H, H, 90], [45, 70, 115]]),
        (DEFAULT_THRESHOLD, [[H, H, 25], [H, H, 90], [45, 70, 115]]),
        (21, [[H, H, 25], [H, H, 90], [45, 70, 115]]),
        (46, [[H, H, H], [H, H, H], [H, H, 115]]),  # 25 and 45 are small: the margins go
    ],
)
def test_the_threshold_is_a_setting(threshold: int, expected: Shown) -> None:
    counts = [[5, 20], [40, 50]]
    table = suppress_table(counts, threshold=threshold)
    assert shown_grid(table) == expected
    assert_protected(counts, table)


def test_the_threshold_value_itself_is_shown() -> None:
    assert shown_grid(suppress_table([[11]])) == [[11, 11], [11, 11]]
    assert shown_grid(suppress_table([[10]])) == [[H, H], [H, H]]
    assert shown_grid(suppress_table([[10]], threshold=10)) == [[10, 10], [10, 10]]
    assert shown_grid(suppress_table([[1]], threshold=1)) == [[1, 1], [1, 1]]


def test_default_threshold() -> None:
    assert DEFAULT_THRESHOLD == 11


@pytest.mark.parametrize("threshold", [0, -1, -11])
def test_threshold_below_one_is_rejected(threshold: int) -> None:
    with pytest.raises(ValueError, match="threshold"):
        suppress_table([[1]], threshold)
    with pytest.raises(ValueError, match="threshold"):
        suppress_counts({"a": 1}, threshold)
    with pytest.raises(ValueError, match="threshold"):
        rate(20, 40, threshold)


def test_threshold_must_be_an_int() -> None:
    with pytest.raises(TypeError):
        suppress_table([[1]], 1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        suppress_table([[1]], True)


def test_bad_counts_are_rejected() -> None:
    with pytest.raises(ValueError, match="same length"):
        suppress_table([[1, 2], [3]])
    with pytest.raises(ValueError, match="negative"):
        suppress_table([[1, -2]])
    with pytest.raises(TypeError):
        suppress_table([[1, 2.0]])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        suppress_table([[1, True]])
    with pytest.raises(ValueError, match="negative"):
        suppress_counts({"a": -1})


def test_cell_value_is_none_exactly_when_suppressed() -> None:
    assert Cell(None, True).value is None
    assert Cell(0, False).value == 0
    with pytest.raises(ValueError, match="None"):
        Cell(3, True)
    with pytest.raises(ValueError, match="None"):
        Cell(None, False)


# --- one dimension ------------------------------------------------------------------------------


def test_counts_a_small_count_forces_a_second() -> None:
    cells, total = suppress_counts({"a": 3, "b": 15, "c": 40})
    assert cells == {"a": Cell(None, True), "b": Cell(None, True), "c": Cell(40, False)}
    assert total == Cell(58, False)


def test_counts_small_total() -> None:
    cells, total = suppress_counts({"a": 4, "b": 0})
    assert cells == {"a": Cell(None, True), "b": Cell(0, False)}
    assert total == Cell(None, True)


def test_counts_nothing_small() -> None:
    cells, total = suppress_counts({"a": 0, "b": 12, "c": 11})
    assert cells == {"a": Cell(0, False), "b": Cell(12, False), "c": Cell(11, False)}
    assert total == Cell(23, False)


def test_counts_threshold_and_empty() -> None:
    assert suppress_counts({"a": 3, "b": 15}, threshold=3) == (
        {"a": Cell(3, False), "b": Cell(15, False)},
        Cell(18, False),
    )
    assert suppress_counts({}) == ({}, Cell(0, False))


# --- rates --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("numerator", "denominator", "expected"),
    [
        (None, 40, None),
        (20, None, None),
        (None, None, None),
        (20, 10, None),  # fewer than 11 cases
        (0, 10, None),
        (0, 0, None),
        (5, 40, None),  # a rate from a small count
        (10, 40, None),
        (0, 40, 0.0),
        (11, 11, 1.0),
        (20, 30, 0.6667),
        (12, 7000, 0.0017),
        (45, 30, 1.5),  # rates per person may exceed 1
    ],
)
def test_rate(numerator: int | None, denominator: int | None, expected: float | None) -> None:
    assert rate(numerator, denominator) == expected


def test_rate_threshold_setting() -> None:
    assert rate(5, 8, threshold=5) == 0.625
    assert rate(4, 8, threshold=5) is None
    assert rate(5, 4, threshold=5) is None
    assert rate(1, 1, threshold=1) == 1.0
    assert rate(0, 0, threshold=1) is None  # no cases: nothing to divide by


def test_rate_rejects_negative_counts() -> None:
    with pytest.raises(ValueError, match="negative"):
        rate(-1, 40)


@given(
    st.one_of(st.none(), st.integers(0, 100)), st.one_of(st.none(), st.integers(0, 100)), st.integers(1, 20)
)
def test_rate_property(numerator: int | None, denominator: int | None, threshold: int) -> None:
    result = rate(numerator, denominator, threshold)
    if numerator is None or denominator is None or denominator < threshold or 0 < numerator < threshold:
        assert result is None
    else:
        assert result == round(numerator / denominator, 4)


# --- properties over random tables --------------------------------------------------------------

counts_values = st.one_of(st.just(0), st.integers(1, 10), st.integers(11, 40))


@st.composite
def tables(draw: st.DrawFn, max_rows: int = 5, max_cols: int = 5) -> list[list[int]]:
    n_rows = draw(st.integers(0, max_rows))
    n_cols = draw(st.integers(0, max_cols))
    return [[draw(counts_values) for _ in range(n_cols)] for _ in range(n_rows)]


thresholds = st.one_of(st.just(DEFAULT_THRESHOLD), st.integers(1, 15))


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables(), thresholds)
def test_no_small_value_shown_and_shown_values_are_true(counts: list[list[int]], threshold: int) -> None:
    table = suppress_table(counts, threshold)
    true, shown = extended(counts), shown_grid(table)
    n_cols = len(counts[0]) if counts else 0
    assert len(table.cells) == len(counts)
    assert all(len(row) == n_cols for row in table.cells)
    assert len(table.row_totals) == len(counts)
    assert len(table.column_totals) == n_cols
    small = 0
    for i, j in entries(true):
        if 0 < true[i][j] < threshold:
            small += 1
            assert shown[i][j] is None
        assert shown[i][j] is None or shown[i][j] == true[i][j]
    assert table.primary == small
    assert table.primary + table.complementary == len(hidden_entries(shown))


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables(), thresholds)
def test_no_hidden_entry_can_be_worked_out(counts: list[list[int]], threshold: int) -> None:
    assert_protected(counts, suppress_table(counts, threshold))


@st.composite
def dense_tables(draw: st.DrawFn) -> list[list[int]]:
    """3x3 to 5x5, mostly zeros and small counts: where hidden entries interact the most."""
    n_rows, n_cols = draw(st.integers(3, 5)), draw(st.integers(3, 5))
    value = st.one_of(st.just(0), st.just(0), st.integers(1, 10), st.integers(11, 40))
    return [[draw(value) for _ in range(n_cols)] for _ in range(n_rows)]


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dense_tables())
def test_no_hidden_entry_of_a_dense_table_can_be_worked_out(counts: list[list[int]]) -> None:
    assert_protected(counts, suppress_table(counts))


@settings(max_examples=100, deadline=None)
@given(tables(max_rows=3, max_cols=3), thresholds)
def test_suppression_is_deterministic(counts: list[list[int]], threshold: int) -> None:
    first = suppress_table(counts, threshold)
    assert suppress_table(counts, threshold) == first
    assert suppress_table(tuple(tuple(row) for row in counts), threshold) == first


@settings(max_examples=100, deadline=None)
@given(tables())
def test_threshold_one_hides_nothing(counts: list[list[int]]) -> None:
    table = suppress_table(counts, threshold=1)
    assert hidden_entries(shown_grid(table)) == []
    assert shown_grid(table) == extended(counts)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=3), counts_values, max_size=6), thresholds)
def test_counts_match_a_single_row_table(counts: dict[str, int], threshold: int) -> None:
    cells, total = suppress_counts(counts, threshold)
    row = suppress_table([list(counts.values())], threshold)
    assert list(cells) == list(counts)
    assert list(cells.values()) == row.cells[0]
    assert total == row.row_totals[0]
    for key, cell in cells.items():
        assert cell.value is None or cell.value == counts[key]
        assert not (cell.value is not None and 0 < cell.value < threshold)
    assert total.value is None or total.value == sum(counts.values())
    # Protection in one dimension: never exactly one hidden entry among the counts and total.
    assert sum(c.suppressed for c in [*cells.values(), total]) != 1
    assert_protected([list(counts.values())], row)


@st.composite
def large_tables(draw: st.DrawFn) -> list[list[int]]:
    n_rows = draw(st.integers(20, 30))
    n_cols = draw(st.integers(18, 22))
    value = st.one_of(st.integers(0, 3), st.integers(11, 60), st.just(0))
    return [[draw(value) for _ in range(n_cols)] for _ in range(n_rows)]


@settings(max_examples=15, deadline=None)
@given(large_tables())
def test_large_tables_hide_whole_lines_and_stay_protected(counts: list[list[int]]) -> None:
    table = suppress_table(counts)
    grid = extended(counts)
    shown = shown_grid(table)
    for i, row in enumerate(shown):
        for j, value in enumerate(row):
            assert value is None or value == grid[i][j]
            assert value is None or not 1 <= value < DEFAULT_THRESHOLD
    hidden_rows = {i for i, row in enumerate(shown[:-1]) if row[-1] is None}
    assert len(hidden_rows) != 1
    assert_protected(counts, table)
