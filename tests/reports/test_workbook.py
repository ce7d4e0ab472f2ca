"""The streaming workbook builder: every export is read back as a spreadsheet would."""

from __future__ import annotations

import csv
import enum
import io
import os
import subprocess
import weakref
import zipfile
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from openpyxl.worksheet._writer import ALL_TEMP_FILES

from formulary.reports import workbook as workbook_module
from formulary.reports.workbook import (
    MAX_CELL_CHARS,
    TRUNCATION_MARK,
    ChartSpec,
    Column,
    Sheet,
    inert_text,
    write_workbook,
)
from tests.tools import LIBREOFFICE, LIBREOFFICE_SKIP

PARIS = ZoneInfo("Europe/Paris")
UTC = timezone.utc

COLUMNS = [
    Column("Batch", "text"),
    Column("Prepared at", "datetime"),
    Column("Expiry", "date", width=14),
    Column("Quantity", "decimal", total=True),
    Column("Value", "money", total=True),
    Column("Doses", "int"),
    Column("Status", "label"),
]
ROWS = [
    ("B-0001", datetime(2026, 3, 1, 8, 30, tzinfo=UTC), date(2027, 1, 31),
     Decimal("2.5"), Decimal("12.3456"), 3, "released"),
    ("B-0002", datetime(2026, 7, 1, 23, 15, tzinfo=UTC), date(2027, 2, 28),
     Decimal("0.0001"), Decimal("0"), 10, "quarantined"),
    ("B-0003", None, None, None, None, None, None),
]


def build(sheets, **kw) -> bytes:
    out = io.BytesIO()
    write_workbook(sheets, out, **kw)
    return out.getvalue()


def load(data: bytes, **kw):
    return load_workbook(io.BytesIO(data), **kw)


@pytest.fixture(scope="module")
def report() -> bytes:
    return build([Sheet("Batches", COLUMNS, iter(ROWS))], tz=PARIS)


# ----------------------------------------------------------------------- cell types

def test_dates_and_datetimes_are_real_excel_dates(report):
    ws = load(report)["Batches"]
    prepared, expiry = ws["B2"], ws["C2"]
    # 08:30 UTC on 1 March is 09:30 in Paris (winter); 23:15 UTC on 1 July is 01:15
    # the next day in Paris (summer): the clinic's local time, written naive
    assert prepared.value == datetime(2026, 3, 1, 9, 30)
    assert ws["B3"].value == datetime(2026, 7, 2, 1, 15)
    assert prepared.is_date and prepared.number_format == "yyyy-mm-dd hh:mm"
    assert expiry.value == datetime(2027, 1, 31)  # openpyxl reads every date as a datetime
    assert expiry.is_date and expiry.number_format == "yyyy-mm-dd"


def test_numbers_are_numbers_with_number_formats(report):
    ws = load(report)["Batches"]
    assert ws["D2"].data_type == "n" and ws["D2"].value == 2.5
    assert ws["D3"].value == 0.0001
    assert ws["D2"].number_format == "#,##0.0###"
    assert ws["E2"].value == 12.3456 and ws["E2"].number_format == "#,##0.00"
    assert ws["E3"].value == 0 and ws["E3"].data_type == "n"
    assert ws["F2"].value == 3 and ws["F2"].number_format == "#,##0"
    assert ws["G2"].value == "released" and ws["G2"].data_type == "s"


def test_none_is_an_empty_cell(report):
    ws = load(report, read_only=True)["Batches"]
    row = next(ws.iter_rows(min_row=4, max_row=4, values_only=True))
    assert row[0] == "B-0003"
    assert all(value is None for value in row[1:7])


def test_layout_frozen_header_filter_widths_bold_header(report):
    ws = load(report)["Batches"]
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == "A1:G4"  # header and data, not the totals row
    assert ws.column_dimensions["C"].width == 14          # given
    assert ws.column_dimensions["A"].width == 24          # default for text
    assert ws.column_dimensions["B"].width == 17          # default for a datetime
    assert [c.value for c in ws[1]] == [c.header for c in COLUMNS]
    assert all(c.font.b for c in ws[1])
    assert not ws["A2"].font.b
    assert ws.print_title_rows == "$1:$1"


def test_columns_carry_their_format_for_cells_added_later(report):
    ws = load(report)["Batches"]
    # a lot number typed below the data in a text column stays text
    assert ws.column_dimensions["A"].number_format == "@"
    assert ws.column_dimensions["C"].number_format == "yyyy-mm-dd"


def test_totals_row_sums_what_the_filter_shows(report):
    ws = load(report)["Batches"]
    total = list(ws[5])
    assert total[0].value == "Total" and total[0].font.b
    # SUBTOTAL(9, ...) is a sum that leaves out rows the filter hides
    assert total[3].value == "=SUBTOTAL(9,D2:D4)"
    assert total[4].value == "=SUBTOTAL(9,E2:E4)"
    assert total[3].font.b and total[3].number_format == "#,##0.0###"
    assert total[4].number_format == "#,##0.00"
    assert total[1].value is None and total[5].value is None
    assert ws.max_row == 5


def test_totals_row_of_an_empty_sheet_is_zero():
    ws = load(build([Sheet("Empty", COLUMNS, [])]))["Empty"]
    assert [c.value for c in ws[2]][:5] == ["Total", None, None, 0, 0]
    assert ws.auto_filter.ref == "A1:G1"


def test_sheets_are_written_in_order():
    data = build([Sheet("Batches", [Column("A")], [["x"]]),
                  Sheet("Components", [Column("B")], [["y"], ["z"]])])
    wb = load(data)
    assert wb.sheetnames == ["Batches", "Components"]
    assert [r[0] for r in wb["Components"].iter_rows(values_only=True)] == ["B", "y", "z"]


def test_plain_dates_take_the_cell_path_if_openpyxl_changes_its_default(monkeypatch):
    monkeypatch.setattr(workbook_module, "_PLAIN_DATE_FORMAT", "d/m/yy")
    ws = load(build([Sheet("S", [Column("Expiry", "date")],
                           [[date(2027, 1, 31)], [datetime(2026, 1, 1, 23, 30, tzinfo=UTC)]])],
                    tz=PARIS))["S"]
    assert ws["A2"].value == datetime(2027, 1, 31) and ws["A2"].number_format == "yyyy-mm-dd"
    assert ws["A3"].value == datetime(2026, 1, 2)  # 00:30 on the 2nd in Paris


def test_date_column_takes_the_local_date_of_an_aware_datetime():
    late = datetime(2026, 1, 1, 23, 30, tzinfo=UTC)
    ws = load(build([Sheet("S", [Column("Day", "date")], [[late]])], tz=PARIS))["S"]
    assert ws["A2"].value == datetime(2026, 1, 2)


# ------------------------------------------------------------------- inert text

TYPED = [
    "=1+1",                                  # a formula, if written as a value
    '=HYPERLINK("http://evil.example","x")',  # LibreOffice evaluated this one
    "=",                                     # one character: openpyxl's own edge
    "+41 79 555 12 12",                      # a phone number
    "-2",                                    # a number, when edited in Excel
    "@SUM(A1:A9)",                           # Lotus-style formula prefix
    "\t=1+1",                                # some programs skip a leading tab
    "\r=1+1",
    "#N/A",                                  # an error value, if written as one
    "#DIV/0!",
    "00123",                                 # an MRN keeps its zeros
    "TRUE",
    "2026-01-01",
    "  spaced  ",
    "line one\nline two",
    "Müller, Zoë",
]


@pytest.fixture(scope="module")
def typed_workbook() -> bytes:
    columns = [Column("Note", "text"), Column("Status", "label")]
    return build([Sheet("Notes", columns, ([text, text] for text in TYPED))])


@pytest.mark.parametrize("data_only", [False, True])
def test_typed_text_reads_back_exactly_as_typed_never_a_formula(typed_workbook, data_only):
    ws = load(typed_workbook, data_only=data_only)["Notes"]
    for row, text in enumerate(TYPED, 2):
        for cell in (ws.cell(row, 1), ws.cell(row, 2)):
            assert cell.value == text, (row, text)
            assert cell.data_type == "s", (row, text)


def test_no_formula_or_error_in_the_sheet_xml(typed_workbook):
    xml = zipfile.ZipFile(io.BytesIO(typed_workbook)).read("xl/worksheets/sheet1.xml")
    assert b"<f>" not in xml and b'<f ' not in xml
    assert b't="e"' not in xml and b't="str"' not in xml


def test_text_that_excel_could_read_as_a_formula_carries_the_quote_prefix(typed_workbook):
    ws = load(typed_workbook)["Notes"]
    prefixed = {ws.cell(row, 1).value for row in range(2, len(TYPED) + 2)
                if ws.cell(row, 1).quotePrefix}
    assert prefixed == {"=1+1", '=HYPERLINK("http://evil.example","x")', "=",
                        "+41 79 555 12 12", "-2", "@SUM(A1:A9)", "\t=1+1", "\r=1+1",
                        "#N/A", "#DIV/0!"}


@pytest.mark.parametrize(("typed", "stored"), [
    ("bell\x07here", "bell\u2407here"),          # the visible picture of BEL
    ("\x00nul", "\u2400nul"),
    ("esc\x1b[31m", "esc\u241b[31m"),
    ("tab\tline\nreturn\r", "tab\tline\nreturn\r"),  # XML carries these: kept
    ("x\uffffy\ud800z", "x\ufffdy\ufffdz"),      # non-characters, a lone surrogate
    ("_x0041_", "_x005F_x0041_"),                # Excel would show "A"; now it shows _x0041_
])
def test_what_xml_cannot_carry_is_made_visible_never_an_error(typed, stored):
    assert inert_text(typed) == stored
    ws = load(build([Sheet("S", [Column("Note")], [[typed]])]))["S"]
    assert ws["A2"].value == stored


def test_text_over_excels_cell_limit_says_it_was_cut():
    long = "x" * (MAX_CELL_CHARS + 10)
    ws = load(build([Sheet("S", [Column("Note")], [[long]])]))["S"]
    value = ws["A2"].value
    assert len(value) == MAX_CELL_CHARS and value.endswith(TRUNCATION_MARK)


def test_text_column_writes_other_values_as_their_text():
    ws = load(build([Sheet("S", [Column("MRN")], [[12345], [""], [Decimal("2.50")]])]))["S"]
    assert ws["A2"].value == "12345" and ws["A2"].data_type == "s"
    assert ws["A3"].value is None
    assert ws["A4"].value == "2.50"


def test_labels_take_an_enums_value():
    class Status(enum.Enum):
        RELEASED = "released"

    ws = load(build([Sheet("S", [Column("Status", "label")], [[Status.RELEASED]])]))["S"]
    assert ws["A2"].value == "released"


def test_headers_are_inert_too():
    ws = load(build([Sheet("S", [Column("=cmd")], [])]))["S"]
    assert ws["A1"].value == "=cmd" and ws["A1"].data_type == "s"


# ------------------------------------------------------------------------- streaming

class Row(list):
    """A list that can be watched with a weak reference."""


def test_a_generator_of_10000_rows_is_streamed_not_collected():
    alive = 0
    most_alive = 0
    t0 = datetime(2026, 1, 1, tzinfo=UTC)

    def let_go():
        nonlocal alive
        alive -= 1

    def rows():
        nonlocal alive, most_alive
        for i in range(10_000):
            row = Row([f"B-{i:05d}", t0 + timedelta(minutes=i), date(2027, 1, 1),
                       Decimal(i % 7) / 4, Decimal("1.25"), i, "released"])
            weakref.finalize(row, let_go)
            alive += 1
            most_alive = max(most_alive, alive)
            yield row

    data = build([Sheet("Batches", COLUMNS, rows())])
    # every row is written and let go before the next one comes
    assert most_alive <= 2
    ws = load(data, read_only=True)["Batches"]
    ws.reset_dimensions()
    values = list(ws.iter_rows(values_only=True))
    assert len(values) == 1 + 10_000 + 1          # header, rows, totals
    assert values[10_000][:2] == ("B-09999", datetime(2026, 1, 7, 22, 39))
    assert values[-1][3] == "=SUBTOTAL(9,D2:D10001)"


# ---------------------------------------------------------------------------- charts

def test_a_native_bar_chart_over_the_streamed_range():
    columns = [Column("Category", "label"), Column("Value", "money"),
               Column("Lots", "int")]
    rows = [("vitamin", Decimal("120.50"), 4), ("anesthetic", Decimal("80"), 2),
            ("peptide", Decimal("45.25"), 1)]
    spec = ChartSpec(title="Stock value by category", categories_col=1, values_cols=[2],
                     anchor="E2", y_title="Value")
    data = build([Sheet("By category", columns, (r for r in rows), charts=[spec])])
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert "xl/charts/chart1.xml" in archive.namelist()
    chart = archive.read("xl/charts/chart1.xml").decode()
    assert "<barChart>" in chart and '<barDir val="col"/>' in chart
    assert "'By category'!$B$2:$B$4" in chart       # values: the data rows only
    assert "'By category'!$A$2:$A$4" in chart       # categories
    assert "<tx><strRef><f>'By category'!B1</f>" in chart  # series named by its header
    assert "Stock value by category" in chart
    assert chart.count('<delete val="0"/>') == 2     # both axes shown in recent Excel
    drawing = archive.read("xl/drawings/drawing1.xml").decode()
    assert "<from><col>4</col><colOff>0</colOff><row>1</row>" in drawing  # at E2, 0-based


def test_chart_ranges_stop_before_the_totals_row():
    columns = [Column("Month", "label"), Column("Lots", "int", total=True)]
    spec = ChartSpec("Lots expiring per month", 1, [2], horizontal=True)
    data = build([Sheet("Expiring", columns, [("2026-01", 3), ("2026-02", 5)], charts=[spec])])
    chart = zipfile.ZipFile(io.BytesIO(data)).read("xl/charts/chart1.xml").decode()
    assert "'Expiring'!$B$2:$B$3" in chart and '<barDir val="bar"/>' in chart


def test_a_sheet_without_rows_gets_no_chart():
    spec = ChartSpec("Nothing", 1, [2])
    data = build([Sheet("S", [Column("A", "label"), Column("B", "int")], [], charts=[spec])])
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert not any(name.startswith("xl/charts/") for name in names)


def test_a_chart_over_a_missing_column_is_refused_before_writing():
    spec = ChartSpec("Bad", 1, [5])
    with pytest.raises(ValueError, match="no column 5"):
        build([Sheet("S", [Column("A", "label"), Column("B", "int")], [], charts=[spec])])


# -------------------------------------------------------------------------- refusals

@pytest.mark.parametrize(("column", "value", "error", "match"), [
    (Column("Qty", "decimal"), "2.5", TypeError, "expects a number"),
    (Column("Qty", "decimal"), True, TypeError, "expects a number"),
    (Column("Qty", "decimal"), Decimal("NaN"), ValueError, "not a finite number"),
    (Column("Qty", "money"), float("inf"), ValueError, "not a finite number"),
    (Column("Day", "date"), "2026-01-01", TypeError, "expects a date"),
    (Column("Day", "date"), datetime(2026, 1, 1), ValueError, "naive datetime"),
    (Column("At", "datetime"), datetime(2026, 1, 1), ValueError, "naive datetime"),
    (Column("At", "datetime"), "09:00", TypeError, "expects a datetime"),
])
def test_a_value_of_the_wrong_type_is_refused_naming_sheet_row_and_column(
        column, value, error, match):
    rows = [[Decimal(1) if column.kind in ("decimal", "money") else None], [value]]
    with pytest.raises(error, match=match) as info:
        build([Sheet("Log", [column], rows)])
    assert "Sheet 'Log', row 3" in str(info.value) and repr(column.header) in str(info.value)


def test_a_row_of_the_wrong_length_is_refused():
    with pytest.raises(ValueError, match="row 2: 1 values for 2 columns"):
        build([Sheet("S", [Column("A"), Column("B")], [["only one"]])])


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"header": "X", "kind": "number"}, "Unknown column kind"),
    ({"header": "X", "kind": "text", "total": True}, "cannot be totalled"),
])
def test_bad_columns_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Column(**kwargs)


@pytest.mark.parametrize(("sheets", "match"), [
    ([], "at least one sheet"),
    ([Sheet("A", [Column("x")], []), Sheet("a", [Column("x")], [])], "Two sheets"),
    ([Sheet("x" * 32, [Column("x")], [])], "1 to 31 characters"),
    ([Sheet("A", [], [])], "no columns"),
    ([Sheet("A", [Column("n", "int", total=True)], [])], "cannot be totalled"),
])
def test_bad_sheets_are_refused(sheets, match):
    with pytest.raises(ValueError, match=match):
        build(sheets)


def test_saving_tells_the_size_of_the_file_as_it_is_compressed():
    told: list[int] = []
    out = io.BytesIO()
    rows = ([f"row {i}", i] for i in range(20_000))
    write_workbook([Sheet("A", [Column("Name"), Column("N", "int")], rows)], out,
                   saving=told.append)
    data = out.getvalue()
    assert len(told) > 1 and told == sorted(told) and told[-1] == len(data)
    ws = load(data)["A"]
    assert ws.max_row == 20_001 and [c.value for c in ws[20_001]] == ["row 19999", 19999]


def test_a_failure_midway_leaves_no_temporary_file_behind():
    before = list(ALL_TEMP_FILES)

    def rows():
        yield ["fine"]
        raise RuntimeError("the database went away")

    out = io.BytesIO()
    with pytest.raises(RuntimeError, match="went away"):
        write_workbook([Sheet("A", [Column("x")], [["a"]]), Sheet("B", [Column("x")], rows())],
                       out)
    assert out.getvalue() == b""
    assert ALL_TEMP_FILES == before
    assert all(os.path.exists(path) for path in before)


# --------------------------------------------------------------- a real spreadsheet

@pytest.mark.skipif(not LIBREOFFICE, reason=LIBREOFFICE_SKIP)
def test_libreoffice_reads_what_was_written(tmp_path):
    rows = [("=1+1", datetime(2026, 3, 1, 8, 30, tzinfo=UTC), date(2027, 1, 31),
             Decimal("2.5"), Decimal("10"), 3, "@SUM(1)"),
            ("_x0041_", None, None, Decimal("1.25"), Decimal("0.5"), None, "-1")]
    source = tmp_path / "report.xlsx"
    with source.open("wb") as out:
        write_workbook([Sheet("Batches", COLUMNS, rows)], out, tz=PARIS)
    # a profile of its own, so a LibreOffice already running elsewhere is not disturbed;
    # the filter options ask for UTF-8 and for the values as shown
    subprocess.run(
        [LIBREOFFICE, f"-env:UserInstallation=file://{tmp_path}/profile", "--headless",
         "--convert-to", "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,true",
         "--outdir", str(tmp_path), str(source)],
        check=True, capture_output=True, timeout=120)
    with (tmp_path / "report.csv").open(encoding="utf-8", newline="") as f:
        table = list(csv.reader(f))
    assert table[0] == [c.header for c in COLUMNS]
    assert table[1] == ["=1+1", "2026-03-01 09:30", "2027-01-31", "2.5", "10.00", "3", "@SUM(1)"]
    assert table[2] == ["_x0041_", "", "", "1.25", "0.50", "", "-1"]
    assert table[3] == ["Total", "", "", "3.75", "10.50", "", ""]
