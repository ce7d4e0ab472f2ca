"""Reading a supplier's delivery sheet: real .xlsx files, written and read back."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import date, datetime
from decimal import Decimal

import pytest
from openpyxl import Workbook, load_workbook

from formulary.domain.errors import ValidationError
from formulary.reports import delivery
from formulary.reports.delivery import (
    DAMAGED,
    NO_ROWS,
    NOT_A_WORKBOOK,
    DeliveryFileError,
    DeliveryRow,
    read_delivery,
    template_workbook,
)

HEADER = ["ingredient", "lot", "expiry", "quantity", "unit_cost"]
GOOD = ["Biotin 5 mg/mL", "L1", date(2027, 1, 31), 10, 4.5]


def xlsx(*rows, sheet_title: str = "Delivery") -> io.BytesIO:
    """An .xlsx whose first sheet holds ``rows`` from A1 down (None: an empty row)."""
    wb = Workbook()
    ws = wb.active
    ws.title = sheet_title
    for row in rows:
        ws.append(list(row) if row is not None else [])
    out = io.BytesIO()
    wb.save(out)
    out.seek(0)
    return out


def problems_of(fileobj, **kw) -> list[tuple[int | None, str]]:
    with pytest.raises(DeliveryFileError) as info:
        read_delivery(fileobj, **kw)
    return info.value.problems


# ----------------------------------------------------------------------- a good file

def test_a_good_file_in_any_column_order_case_and_spacing():
    data = xlsx(
        [" Unit Cost ", "LOT", "Expiry", "quantity", "GTIN", "INGREDIENT", "supplier"],
        [4.5, "B24-0117", date(2027, 1, 31), 10, None, "Biotin 5 mg/mL", "Pharma SA"],
        None,                                            # an empty row is skipped
        ["0.1", " 7781 ", "2027-03-01", "2.5", "9506000134352", None, None],
        [None, 12345, datetime(2027, 6, 30, 0, 0), 0.75, 9506000134352, "Lidocaine 2%", ""],
    )
    rows = read_delivery(data)
    assert rows == [
        DeliveryRow(row=2, ingredient="Biotin 5 mg/mL", gtin=None, lot="B24-0117",
                    expiry=date(2027, 1, 31), quantity=Decimal("10"),
                    unit_cost=Decimal("4.5"), supplier="Pharma SA"),
        DeliveryRow(row=4, ingredient=None, gtin="09506000134352", lot="7781",
                    expiry=date(2027, 3, 1), quantity=Decimal("2.5"),
                    unit_cost=Decimal("0.1"), supplier=None),
        DeliveryRow(row=5, ingredient="Lidocaine 2%", gtin="09506000134352", lot="12345",
                    expiry=date(2027, 6, 30), quantity=Decimal("0.75"),
                    unit_cost=None, supplier=None),
    ]
    assert all(type(r.quantity) is Decimal for r in rows)


@pytest.mark.parametrize("spelling", ["unit_cost", "Unit cost", "UNIT_COST", " unit cost ",
                                      "Unit-Cost", "unit  cost"])
def test_column_names_ignore_case_spaces_dashes_and_underscores(spelling):
    rows = read_delivery(xlsx(["ingredient", "lot", "expiry", "quantity", spelling], GOOD))
    assert rows[0].unit_cost == Decimal("4.5")


def test_optional_columns_may_be_left_out():
    rows = read_delivery(xlsx(["gtin", "lot", "expiry", "quantity"],
                              ["09506000134352", "L1", "2027-01-31", 3]))
    assert rows == [DeliveryRow(2, None, "09506000134352", "L1", date(2027, 1, 31),
                                Decimal("3"), None, None)]


def test_the_header_may_sit_below_empty_rows_and_row_numbers_stay_excels():
    rows = read_delivery(xlsx(None, None, HEADER, None, GOOD))
    assert [r.row for r in rows] == [5]


@pytest.mark.parametrize(("cell", "expected"), [
    (2.5, Decimal("2.5")),
    (0.1, Decimal("0.1")),                   # the decimal Excel shows, not 0.1000000000000000055
    (1234.5678, Decimal("1234.5678")),
    (3, Decimal("3")),
    ("2.50", Decimal("2.5")),
    (" 1e3 ", Decimal("1000")),
])
def test_quantities_are_read_exactly(cell, expected):
    rows = read_delivery(xlsx(HEADER, [*GOOD[:3], cell, None]))
    assert rows[0].quantity == expected


def test_a_numeric_gtin_gets_its_leading_zeros_back():
    # a GTIN-12 (UPC) typed into a General cell: Excel keeps 36000291452
    rows = read_delivery(xlsx(["gtin", "lot", "expiry", "quantity"],
                              [36000291452, "L1", "2027-01-31", 1],
                              [36000291452.0, "L2", "2027-01-31", 1]))
    assert [r.gtin for r in rows] == ["00036000291452", "00036000291452"]


def patch_sheet(data: io.BytesIO, pattern: bytes, replacement: bytes) -> io.BytesIO:
    """``data`` with ``pattern`` replaced once in its first sheet's XML."""
    patched = io.BytesIO()
    with zipfile.ZipFile(data) as src, zipfile.ZipFile(patched, "w") as dst:
        for item in src.infolist():
            content = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                content, n = re.subn(pattern, replacement, content)
                assert n == 1
            dst.writestr(item, content)
    patched.seek(0)
    return patched


def test_a_sheet_with_a_wrong_size_record_is_read_whole():
    # some programs write <dimension ref="A1"/> whatever the sheet holds; read-only
    # openpyxl would believe it and stop after the first row
    data = xlsx(HEADER, GOOD, [*GOOD[:1], "L2", *GOOD[2:]])
    patched = patch_sheet(data, rb'<dimension ref="[^"]*"/>', b'<dimension ref="A1"/>')
    assert [r.lot for r in read_delivery(patched)] == ["L1", "L2"]


def test_a_damaged_sheet_is_refused():
    damaged = patch_sheet(xlsx(HEADER, GOOD, GOOD), rb"</sheetData>", b"<sheetData>")
    assert problems_of(damaged) == [(None, DAMAGED)]


def test_only_the_first_sheet_is_read():
    wb = Workbook()
    wb.active.append(HEADER)
    wb.active.append(GOOD)
    other = wb.create_sheet("Notes")
    other.append(["anything", "at", "all"])
    out = io.BytesIO()
    wb.save(out)
    out.seek(0)
    assert len(read_delivery(out)) == 1


# --------------------------------------------------------------------- the file itself

@pytest.mark.parametrize("content", [
    b"",
    b"\x00\x01garbage\xff" * 100,
    b"ingredient,lot,expiry,quantity\nBiotin,L1,2027-01-31,10\n",       # a CSV
    b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512,                 # an old .xls
])
def test_what_is_not_a_workbook_is_refused(content):
    assert problems_of(io.BytesIO(content)) == [(None, NOT_A_WORKBOOK)]


def test_a_zip_that_is_not_a_workbook_is_refused():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("readme.txt", "hello")
    out.seek(0)
    assert problems_of(out) == [(None, NOT_A_WORKBOOK)]


def test_a_part_that_unpacks_too_large_is_refused(monkeypatch):
    monkeypatch.setattr(delivery, "MAX_PART_BYTES", 1000)
    (problem,) = problems_of(xlsx(HEADER, GOOD))
    assert problem[0] is None and "too large" in problem[1]


@pytest.mark.parametrize("rows", [
    [],                                   # an empty sheet
    [None, None],                         # only empty rows
    [HEADER],                             # a header and nothing under it
    [HEADER, None, ["", "  ", None]],     # blank cells do not make a row
])
def test_a_sheet_without_rows_is_refused(rows):
    assert problems_of(xlsx(*rows)) == [(None, NO_ROWS)]


def test_a_sheet_without_a_header_is_refused():
    (problem,) = problems_of(xlsx(GOOD, GOOD))
    assert problem[0] is None
    assert problem[1].startswith("The sheet has no header row.")


def test_unknown_repeated_and_missing_columns_are_all_named():
    problems = problems_of(xlsx(["Lot", "Price", "lot", "quantity", "Notes"], ["L1"]))
    assert problems == [
        (None, "Unknown column 'Price' (column B): the columns are ingredient, gtin, lot, "
               "expiry, quantity, unit_cost, supplier."),
        (None, "Unknown column 'Notes' (column E): the columns are ingredient, gtin, lot, "
               "expiry, quantity, unit_cost, supplier."),
        (None, "The column lot appears more than once (columns A, C)."),
        (None, "Missing column: expiry."),
        (None, "Missing column: ingredient or gtin (at least one)."),
    ]


@pytest.mark.parametrize("missing", ["lot", "expiry", "quantity"])
def test_each_required_column_is_required(missing):
    header = [name for name in HEADER if name != missing]
    assert problems_of(xlsx(header, GOOD[:len(header)])) == [
        (None, f"Missing column: {missing}.")]


def test_more_rows_than_allowed_are_refused():
    assert problems_of(xlsx(HEADER, GOOD, GOOD, GOOD), max_rows=2) == [
        (None, "The sheet has more than 2 rows: split it into smaller files.")]
    assert len(read_delivery(xlsx(HEADER, GOOD, GOOD), max_rows=2)) == 2


def test_a_sheet_that_runs_on_far_below_its_data_is_refused():
    # cells formatted (but empty) far below the data: reading stops at max_rows x 10
    wb = Workbook()
    ws = wb.active
    ws.append(HEADER)
    ws.append(GOOD)
    ws.cell(row=40, column=1).number_format = "0.00"
    out = io.BytesIO()
    wb.save(out)
    out.seek(0)
    assert problems_of(out, max_rows=3) == [
        (None, "The sheet goes on past row 31; at most 3 rows are read. "
               "Delete the empty rows below the data.")]


# ------------------------------------------------------------------------ bad rows

@pytest.mark.parametrize(("row", "reason"), [
    (["Biotin", None, "2027-01-31", 1, None], "Lot is empty."),
    (["Biotin", "  ", "2027-01-31", 1, None], "Lot is empty."),
    (["Biotin", date(2026, 3, 12), "2027-01-31", 1, None],
     "Lot 2026-03-12 is a date: Excel converted what was typed. "
     "Format the column as text and type it again."),
    (["Biotin", 1.5, "2027-01-31", 1, None],
     "Lot 1.5 is a number with decimals: format the column as text so it keeps what "
     "was typed."),
    (["Biotin", "L1", None, 1, None], "Expiry is empty."),
    (["Biotin", "L1", "2026-02-30", 1, None], "Expiry 2026-02-30 is not a real date."),
    (["Biotin", "L1", "31/01/2027", 1, None],
     "Expiry '31/01/2027' is not a date: give it as YYYY-MM-DD or as an Excel date."),
    (["Biotin", "L1", "2027-01", 1, None],
     "Expiry '2027-01' is not a date: give it as YYYY-MM-DD or as an Excel date."),
    (["Biotin", "L1", 46000, 1, None],
     "Expiry 46000 is a number, not a date: format the cell as a date."),
    (["Biotin", "L1", "2027-01-31", None, None], "Quantity is required."),
    (["Biotin", "L1", "2027-01-31", 0, None], "Quantity must be positive."),
    (["Biotin", "L1", "2027-01-31", -2, None], "Quantity must be positive."),
    (["Biotin", "L1", "2027-01-31", 1 / 3, None], "Quantity: at most 4 decimal places."),
    (["Biotin", "L1", "2027-01-31", 0.00001, None], "Quantity: at most 4 decimal places."),
    (["Biotin", "L1", "2027-01-31", "2,5", None],
     "Quantity: use a point for decimals and no thousands separator (2.5, not 2,5)."),
    (["Biotin", "L1", "2027-01-31", "ten", None], "Quantity must be a number, like 2.5."),
    (["Biotin", "L1", "2027-01-31", True, None], "Quantity must be a number."),
    (["Biotin", "L1", "2027-01-31", date(2027, 1, 1), None],
     "Quantity must be a number, not a date."),
    (["Biotin", "L1", "2027-01-31", 1, -0.5], "Unit cost must not be negative."),
    (["Biotin", "L1", "2027-01-31", 1, 1.23456], "Unit cost: at most 4 decimal places."),
    (["Biotin", "L1", "2027-01-31", 1, "free"], "Unit cost must be a number, like 2.5."),
    ([None, "L1", "2027-01-31", 1, None], "Give the ingredient's name or its GTIN."),
])
def test_each_bad_cell_is_named_with_its_row(row, reason):
    assert problems_of(xlsx(HEADER, GOOD, row)) == [(3, reason)]


def test_a_unit_cost_of_zero_is_allowed():
    assert read_delivery(xlsx(HEADER, [*GOOD[:4], 0]))[0].unit_cost == Decimal("0")


@pytest.mark.parametrize(("gtin", "reason"), [
    ("9506000134353", "GTIN: bad check digit in GTIN 9506000134353: the last digit "
                      "should be 2."),
    ("12345", "GTIN: a GTIN has 8, 12, 13 or 14 digits; '12345' has 5."),
    ("95060001343-52", "GTIN: a GTIN has digits only; '95060001343-52' does not."),
    (123456789012345, "GTIN 123456789012345 has more than 14 digits."),
    (95060001343.52, "GTIN '95060001343.52' is not a GTIN: give its digits."),
])
def test_bad_gtins_are_refused(gtin, reason):
    header = ["gtin", "lot", "expiry", "quantity"]
    assert problems_of(xlsx(header, [gtin, "L1", "2027-01-31", 1])) == [(2, reason)]


def test_an_excel_error_in_a_cell_is_refused():
    wb = Workbook()
    ws = wb.active
    ws.append(HEADER)
    ws.append(GOOD)
    ws["D2"] = "#N/A"
    ws["D2"].data_type = "e"      # as Excel saves a formula that failed
    out = io.BytesIO()
    wb.save(out)
    out.seek(0)
    assert problems_of(out) == [(2, "Quantity: the cell holds the Excel error #N/A.")]


def test_a_value_outside_the_named_columns_is_refused():
    assert problems_of(xlsx(HEADER, [*GOOD, None, "stray"])) == [
        (2, "Column G has a value but no header.")]


def test_every_problem_of_every_row_is_collected_in_sheet_order():
    data = xlsx(
        HEADER,
        GOOD,                                                   # row 2: good
        [None, None, "2026-02-30", "x", -1],                    # row 3: five problems
        None,                                                   # row 4: empty
        GOOD,                                                   # row 5: good
        ["Biotin", "L9", "soon", 1, None],                      # row 6: one problem
    )
    with pytest.raises(DeliveryFileError) as info:
        read_delivery(data)
    error = info.value
    assert error.problems == [
        (3, "Lot is empty."),
        (3, "Expiry 2026-02-30 is not a real date."),
        (3, "Quantity must be a number, like 2.5."),
        (3, "Unit cost must not be negative."),
        (3, "Give the ingredient's name or its GTIN."),
        (6, "Expiry 'soon' is not a date: give it as YYYY-MM-DD or as an Excel date."),
    ]
    # a domain error: mapped once to a 422 and to the form's file field
    assert isinstance(error, ValidationError) and error.status == 422
    assert error.message == "The delivery sheet was refused: 6 problems. Nothing was received."
    assert error.fields == {"file": [
        "Row 3: Lot is empty.",
        "Row 3: Expiry 2026-02-30 is not a real date.",
        "Row 3: Quantity must be a number, like 2.5.",
        "Row 3: Unit cost must not be negative.",
        "Row 3: Give the ingredient's name or its GTIN.",
        "Row 6: Expiry 'soon' is not a date: give it as YYYY-MM-DD or as an Excel date.",
    ]}


def test_a_single_problem_is_the_message():
    with pytest.raises(DeliveryFileError) as info:
        read_delivery(io.BytesIO(b"not a workbook"))
    assert info.value.message == NOT_A_WORKBOOK
    assert str(info.value) == NOT_A_WORKBOOK


# ----------------------------------------------------------------------- the template

def test_the_template_reads_back_as_one_good_row():
    out = io.BytesIO()
    template_workbook(out)
    out.seek(0)
    (row,) = read_delivery(out)
    assert row.row == 2 and row.ingredient == "Biotin 5 mg/mL" and row.gtin is None
    assert row.quantity == Decimal("10") and row.unit_cost == Decimal("4.5")
    assert row.expiry > date.today()


def test_the_template_names_every_column_and_keeps_typed_codes_as_text():
    out = io.BytesIO()
    template_workbook(out)
    ws = load_workbook(io.BytesIO(out.getvalue()))["Delivery"]
    assert [c.value for c in ws[1]] == ["Ingredient", "GTIN", "Lot", "Expiry", "Quantity",
                                        "Unit cost", "Supplier"]
    assert all(c.font.b for c in ws[1])
    assert ws.freeze_panes == "A2"
    assert ws.column_dimensions["A"].width == 30
    # GTIN and lot columns are formatted as text: what a person types there keeps its zeros
    assert ws.column_dimensions["B"].number_format == "@"
    assert ws.column_dimensions["C"].number_format == "@"
    assert ws.column_dimensions["D"].number_format == "yyyy-mm-dd"
