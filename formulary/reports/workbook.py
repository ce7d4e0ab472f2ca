"""A streaming Excel workbook builder over plain rows (SPEC §8).

A report hands :func:`write_workbook` a few :class:`Sheet` objects: a title, the
:class:`Column` list, and the rows as any iterable (a generator over a query is the
point: rows are written to disk as they come, so memory stays flat however long the
log grows). No Flask and no SQLAlchemy here; a thin view sends the file.

What every sheet gets:

- a bold header row, frozen (``A2``), an auto filter over header and data, column
  widths (the column's own, or a default for its kind), the header repeated on every
  printed page;
- cells typed by the column's kind (:data:`KINDS`): real Excel dates and numbers with
  number formats, never numbers written as text;
- a totals row when a column asks for one: "Total" in the first column and, under each
  such column, ``=SUBTOTAL(9, <data range>)`` -- a sum that follows the filter, so a
  manager who filters the stock to one category reads that category's value;
- optional native bar charts over the sheet's own columns (:class:`ChartSpec`), whose
  ranges are filled in once the last row is known.

Text a person typed (``kind="text"``) is inert, whatever it starts with. Every text
value is written as a string, never as a formula or an error value (``=HYPERLINK(..)``,
``#N/A``, ``00123`` and ``TRUE`` all read back exactly as typed). Text that Excel could
turn into a formula when someone edits the cell -- first character ``=``, ``+``, ``-``,
``@``, tab or carriage return -- and the error spellings (``#N/A``, ...) also carry
Excel's *quote prefix*, which keeps the cell text on edit. Only those: the prefix costs
a styled cell per value, and a plain string is already stored as text (an edit of
"00123" in Excel may still turn it into a number, but the file holds "00123").
``label`` columns (our own fixed text) get the same guard.
What cannot be stored as typed is made visible rather than dropped or guessed:

- control characters that XML cannot carry (U+0000-U+0008, U+000B, U+000C,
  U+000E-U+001F) become their visible Unicode "control pictures" (U+0007 -> U+2407),
  one character for one; tab, line feed and carriage return are kept; the two
  non-characters U+FFFE/U+FFFF and lone surrogates become U+FFFD;
- a literal ``_xHHHH_`` (which Excel would decode into another character) is escaped as
  ``_x005F_xHHHH_`` so Excel and LibreOffice show it exactly as typed; openpyxl does
  not undo that escape for inline strings, so a program reading the file with
  openpyxl sees ``_x005F_`` in front;
- text over Excel's 32,767-character cell limit is cut and ends in
  :data:`TRUNCATION_MARK`, so the sheet says it is incomplete.

A ``footer`` line (the exports put the audit chain's head there, SPEC §2) goes into every
sheet's printed page footer and into the workbook's description property (which a program
reads without opening a sheet).

Printing: every sheet prints landscape on A4, scaled to fit its width on one page (as
many pages down as the rows need), its header row repeated on every page, with
"Page N of M" in the footer. The words the workbook writes itself (page numbers, "Generated
... by ...", "Total") are :class:`PrintWords`: the reader's, from the catalog, as the sheet
titles and headers are (SPEC §13). A :class:`TitleBlock` (clinic, report, range, generated at
and by) is the printed page header of every page, and the workbook's title, subject,
keywords and author; the data stay a plain table whose first row is the header, so
filters, re-imports and other programs read it as before.

A ``label`` column may hold codes shown as words (``Column(..., words=True)``:
``plant_extract`` -> "Plant extract", :mod:`formulary.reports.words`). Money columns
carry their currency in the number format (``currency="EUR"``: ``1,234.50 EUR``).

Time: a timezone-aware datetime is written in the clinic's local time (``tz``), as a
naive Excel datetime. A naive datetime is refused, as it is by the database layer: its
zone would be a guess.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone, tzinfo
from decimal import Decimal
from typing import Any, BinaryIO

from openpyxl import Workbook
from openpyxl.cell.cell import ERROR_CODES, TIME_FORMATS, WriteOnlyCell
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.page import PageMargins

from formulary.reports.words import code_words

__all__ = [
    "DATE_FORMAT", "DATETIME_FORMAT", "DECIMAL_FORMAT", "INT_FORMAT", "KINDS",
    "MAX_CELL_CHARS", "MONEY_FORMAT", "TRUNCATION_MARK", "ChartSpec", "Column", "PrintWords",
    "Sheet", "TitleBlock", "inert_text", "money_format", "write_workbook",
]

DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
#: Quantities: up to 4 decimals (the stored scale), at least one so "5" does not
#: show as "5." as it does with "#,##0.####".
DECIMAL_FORMAT = "#,##0.0###"
MONEY_FORMAT = "#,##0.00"
INT_FORMAT = "#,##0"
_CURRENCY = re.compile(r"[A-Z]{3}")


def money_format(currency: str | None) -> str:
    """The number format of a money column: ``#,##0.00 "EUR"`` (the ISO code after the
    amount, as a literal: Excel and LibreOffice show it whatever their locale)."""
    if currency is None:
        return MONEY_FORMAT
    if not _CURRENCY.fullmatch(currency):
        raise ValueError(f"A currency is a three-letter ISO 4217 code, not {currency!r}.")
    return f'{MONEY_FORMAT} "{currency}"'

_NUMBER_FORMATS = {
    "date": DATE_FORMAT, "datetime": DATETIME_FORMAT, "decimal": DECIMAL_FORMAT,
    "money": MONEY_FORMAT, "int": INT_FORMAT,
}

_COLUMN_FORMATS = {**_NUMBER_FORMATS, "text": "@"}

#: Column kinds. ``text``: typed by a person, always inert text. ``label``: our own
#: fixed text (a status code, a unit). The others are typed values with a number format.
KINDS = frozenset({"text", "label", "date", "datetime", "decimal", "money", "int"})
_SUMMABLE = frozenset({"decimal", "money", "int"})

_DEFAULT_WIDTHS = {
    "text": 24.0, "label": 12.0, "date": 12.0, "datetime": 17.0,
    "decimal": 12.0, "money": 12.0, "int": 9.0,
}

#: Excel's limit on the characters in one cell.
MAX_CELL_CHARS = 32_767
TRUNCATION_MARK = "\u2026 [truncated]"

# What cannot go into the file as it is: XML-illegal control characters, the two
# non-characters, lone surrogates; and a literal _xHHHH_ that Excel would decode.
_UNSAFE_TEXT = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]|_x[0-9A-Fa-f]{4}_")
# A text cell needs our care (an explicit inert cell) when it is unsafe as above, or
# when its first character makes Excel read it as a formula on input or on edit
# (= + - @, and tab or carriage return, which some programs skip before looking).
_NEEDS_CARE = re.compile(
    r"^[=+\-@\t\r]|[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]|_x[0-9A-Fa-f]{4}_")
# Strings openpyxl would write as error values rather than text.
_ERROR_CODES = frozenset(ERROR_CODES)
# The number format openpyxl gives a plain date by itself.
_PLAIN_DATE_FORMAT = TIME_FORMATS.get(date)


def _make_safe(match: re.Match[str]) -> str:
    s = match.group()
    if len(s) > 1:                      # _xHHHH_: escape its underscore, as Excel does
        return "_x005F" + s
    code = ord(s)
    if code < 0x20:                     # a control character: its visible picture
        return chr(0x2400 + code)
    return "\ufffd"                     # U+FFFE, U+FFFF, a lone surrogate


def inert_text(value: str) -> str:
    """``value`` as it will be stored in a text cell (see the module docstring)."""
    if _UNSAFE_TEXT.search(value) is not None:
        value = _UNSAFE_TEXT.sub(_make_safe, value)
    if len(value) > MAX_CELL_CHARS:
        value = value[:MAX_CELL_CHARS - len(TRUNCATION_MARK)] + TRUNCATION_MARK
    return value


@dataclass(frozen=True)
class Column:
    """One column of a sheet: its header, the kind of its values (:data:`KINDS`), its
    width in Excel's character units (None: a default for the kind), whether the
    totals row sums it (``decimal``, ``money`` and ``int`` columns only), and whether its
    values are codes to write as words (``label`` columns only)."""

    header: str
    kind: str = "text"
    width: float | None = None
    total: bool = False
    words: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"Unknown column kind {self.kind!r}: one of {sorted(KINDS)}.")
        if self.words and self.kind != "label":
            raise ValueError(f"Column {self.header!r}: only a label column holds codes.")
        if self.total and self.kind not in _SUMMABLE:
            raise ValueError(f"Column {self.header!r}: a {self.kind} column cannot be totalled.")


@dataclass(frozen=True)
class ChartSpec:
    """A native Excel bar chart over columns of the sheet that carries it.

    ``categories_col`` and ``values_cols`` are 1-based column numbers of that sheet;
    each values column is one series, named by its header. The ranges cover the data
    rows (not the header, not the totals row); a sheet with no data rows gets no chart.
    ``anchor`` is the cell of the chart's top-left corner; ``width``/``height`` in cm.
    ``kind``: only ``"bar"``; ``horizontal`` bars read better with long names.
    """

    title: str
    categories_col: int
    values_cols: Sequence[int]
    anchor: str = "H2"
    kind: str = "bar"
    horizontal: bool = False
    x_title: str | None = None
    y_title: str | None = None
    width: float = 18.0
    height: float = 9.0

    def __post_init__(self) -> None:
        if self.kind != "bar":
            raise ValueError(f"Unknown chart kind {self.kind!r}: only 'bar'.")
        if not self.values_cols:
            raise ValueError("A chart needs at least one values column.")


def _english_generated(at: datetime, by: str) -> str:
    return f"Generated {at:%Y-%m-%d %H:%M} by {by}"


@dataclass(frozen=True)
class PrintWords:
    """The words the workbook writes itself: the page footer's numbering (Excel's codes:
    ``&P`` the page, ``&N`` the pages), the title block's "made when and by whom" (the
    local time, naive, and the name, both ready for a header) and the totals row's first
    cell. English here; :func:`write_workbook` uses the reader's."""

    page: str = "Page &P of &N"
    generated: Callable[[datetime, str], str] = _english_generated
    total: str = "Total"


ENGLISH_PRINT = PrintWords()


@dataclass(frozen=True)
class TitleBlock:
    """What a printed page of an export says it is: the clinic, the report, the range
    it covers (None: no range), and when (an aware datetime, shown in the clinic's zone)
    and by whom (a person's full name) it was made."""

    clinic: str
    report: str
    range: str | None
    generated_at: datetime
    generated_by: str

    def header_sections(self, tz: tzinfo,
                        words: PrintWords = ENGLISH_PRINT) -> tuple[str, str, str]:
        """Left, centre and right sections of the page header (Excel's codes: ``&B``
        bold, ``&&`` a literal ampersand). Excel takes 255 characters in a header; each
        section is cut to fit."""
        at = _local(self.generated_at, tz, "generated_at")
        left = f"&B{_header_text(self.clinic, 60)}&B · {_header_text(self.report, 60)}"
        centre = _header_text(self.range or "", 90)
        right = _header_text(words.generated(at, _cut(self.generated_by, 60)), 120)
        return left, centre, right


def _cut(text: str, limit: int) -> str:
    text = " ".join(inert_text(text).split())
    if len(text) > limit:
        text = text[:limit - 1] + "\u2026"
    return text


def _header_text(text: str, limit: int) -> str:
    return _cut(text, limit).replace("&", "&&")


@dataclass
class Sheet:
    """A sheet to write: ``rows`` is any iterable (a generator is fine, and is consumed
    once) of sequences holding one value per column, ``None`` for an empty cell."""

    title: str
    columns: Sequence[Column]
    rows: Iterable[Sequence[Any]]
    charts: Sequence[ChartSpec] = field(default_factory=tuple)


def write_workbook(sheets: Iterable[Sheet], out: BinaryIO, *,
                   tz: tzinfo = timezone.utc, footer: str | None = None,
                   title: TitleBlock | None = None, currency: str | None = None,
                   saving: Callable[[int], None] | None = None) -> None:
    """Write ``sheets`` in order as an .xlsx workbook to the binary file ``out``.

    Rows are streamed: each is converted and written as it is drawn from its sheet's
    ``rows``. ``tz`` is the clinic's time zone, in which aware datetimes are written.
    ``footer``: one line of our own text for every sheet's page footer and the workbook's
    description (Excel takes at most 255 characters in a footer).
    ``title``: the printed page header of every sheet and the workbook's properties.
    ``currency``: the ISO code shown with every money value (None: a plain number).
    ``saving``: called with the size of the file in ``out`` so far, after each write while
    the workbook is saved (a write-only sheet's rows are compressed into the file only
    then: tens of seconds for a million rows, with no row left to count).
    A value of the wrong type for its column (a string in a money column, a naive
    datetime) raises ``TypeError``/``ValueError`` naming the sheet, row and column;
    the workbook is not saved then (``out`` is left untouched), and the temporary
    files of the sheets written so far are deleted.
    """
    wb = Workbook(write_only=True)
    wb.properties.creator = "Formulary"
    if footer is not None:
        if len(footer) > 200 or "&" in footer or _UNSAFE_TEXT.search(footer):
            raise ValueError("A footer is one short line of plain text (no '&').")
        wb.properties.description = footer
    money = money_format(currency)
    words = _reader_print_words()
    header = title.header_sections(tz, words) if title is not None else None
    if title is not None:
        wb.properties.title = title.report[:200]
        wb.properties.subject = (title.range or "")[:200]
        wb.properties.keywords = title.clinic[:200]
        wb.properties.lastModifiedBy = title.generated_by[:200]
    written: list[Any] = []
    titles: set[str] = set()
    try:
        for sheet in sheets:
            # Titles, headers and chart titles in the reader's language (SPEC §13): the
            # English text is looked up at this edge; values stay data.
            sheet = _translated(sheet)
            if not 0 < len(sheet.title) <= 31:
                raise ValueError(f"Sheet title {sheet.title!r}: Excel takes 1 to 31 characters.")
            if sheet.title.casefold() in titles:
                raise ValueError(f"Two sheets are named {sheet.title!r}.")
            titles.add(sheet.title.casefold())
            ws = wb.create_sheet(sheet.title)
            written.append(ws)
            if footer is not None:
                ws.oddFooter.left.text = footer
            _page_setup(ws, header, words)
            _write_sheet(ws, sheet, tz, money, words)
        if not written:
            raise ValueError("A workbook needs at least one sheet.")
        wb.save(out if saving is None else _CountingWriter(out, saving))
    except BaseException:
        _discard(written)
        raise


class _CountingWriter:
    """``out`` as ``zipfile`` uses it, telling ``saving`` the size of the file so far
    (its furthest byte: zipfile seeks back to rewrite an entry's header)."""

    def __init__(self, out: BinaryIO, saving: Callable[[int], None]):
        self._out, self._saving, self._size = out, saving, 0

    def write(self, data: bytes) -> int:
        n = self._out.write(data)
        self._size = max(self._size, self._out.tell())
        self._saving(self._size)
        return n

    def __getattr__(self, name: str) -> Any:
        return getattr(self._out, name)


# ------------------------------------------------------------------------- internals

_BOLD = Font(name="Calibri", sz=11, bold=True)


def _page_setup(ws: Any, header: tuple[str, str, str] | None,
                words: PrintWords = ENGLISH_PRINT) -> None:
    """Landscape A4, scaled to one page wide (any number of pages down), narrow
    margins, page numbers; the title block in the page header."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = "9"           # A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0           # as many pages down as the rows need
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_margins = PageMargins(left=0.4, right=0.4, top=0.9, bottom=0.7,
                                  header=0.3, footer=0.3)
    ws.oddFooter.right.text = words.page
    if header is not None:
        ws.oddHeader.left.text, ws.oddHeader.center.text, ws.oddHeader.right.text = header


def _write_sheet(ws: Any, sheet: Sheet, tz: tzinfo, money: str = MONEY_FORMAT,
                 words: PrintWords = ENGLISH_PRINT) -> None:
    columns = list(sheet.columns)
    if not columns:
        raise ValueError(f"Sheet {sheet.title!r} has no columns.")
    if columns[0].total:
        raise ValueError(f"Sheet {sheet.title!r}: the first column holds the word "
                         "'Total' and cannot be totalled.")
    width = len(columns)
    last_letter = get_column_letter(width)
    for spec in sheet.charts:
        for col in (spec.categories_col, *spec.values_cols):
            if not 1 <= col <= width:
                raise ValueError(f"Chart {spec.title!r}: sheet {sheet.title!r} has no "
                                 f"column {col}.")

    # Widths, freeze panes and print titles must be set before the first append: a
    # write-only sheet writes them with its first row and silently drops later changes.
    for idx, column in enumerate(columns, 1):
        dimension = ws.column_dimensions[get_column_letter(idx)]
        dimension.width = _width(column)
        # The column's own format, for cells a person adds below the data: a lot
        # number typed into a text column stays text ("012345" keeps its zero).
        if column.kind in _COLUMN_FORMATS:
            dimension.number_format = (money if column.kind == "money"
                                       else _COLUMN_FORMATS[column.kind])
    ws.freeze_panes = "A2"
    ws.print_title_rows = "1:1"

    ws.append([_header_cell(ws, column.header) for column in columns])

    converters = [_converter(ws, column, tz, money) for column in columns]
    row_number = 1
    for row_number, values in enumerate(sheet.rows, 2):
        try:
            if len(values) != width:
                raise ValueError(f"{len(values)} values for {width} columns")
            cells = [convert(value) for convert, value in zip(converters, values)]
        except (TypeError, ValueError) as exc:
            error = TypeError if isinstance(exc, TypeError) else ValueError
            raise error(f"Sheet {sheet.title!r}, row {row_number}: {exc}") from exc
        ws.append(cells)
    last_data_row = row_number

    # Filters and drawings are written when the sheet is closed, at save: set them now.
    ws.auto_filter.ref = f"A1:{last_letter}{max(last_data_row, 1)}"
    if any(column.total for column in columns):
        ws.append(_totals_row(ws, columns, last_data_row, money, words.total))
    if last_data_row >= 2:
        for spec in sheet.charts:
            ws.add_chart(_chart(ws, spec, columns, last_data_row, money), spec.anchor)


def _width(column: Column) -> float:
    if column.width is not None:
        return column.width
    return max(_DEFAULT_WIDTHS[column.kind], min(len(column.header) + 3, 40))


def _header_cell(ws: Any, header: str) -> Any:
    cell = WriteOnlyCell(ws)
    cell.font = _BOLD
    cell.value = inert_text(header)
    cell.data_type = "s"
    return cell


def _totals_row(ws: Any, columns: list[Column], last_data_row: int,
                money: str = MONEY_FORMAT, total: str = "Total") -> list[Any]:
    row: list[Any] = []
    for idx, column in enumerate(columns, 1):
        cell = WriteOnlyCell(ws)
        cell.font = _BOLD
        if idx == 1:
            cell.value = inert_text(total)
            cell.data_type = "s"
        elif column.total:
            cell.number_format = money if column.kind == "money" else _NUMBER_FORMATS[column.kind]
            if last_data_row >= 2:
                letter = get_column_letter(idx)
                cell.value = f"=SUBTOTAL(9,{letter}2:{letter}{last_data_row})"
            else:
                cell.value = 0
        else:
            cell = None
        row.append(cell)
    return row


def _translated(sheet: Sheet) -> Sheet:
    from dataclasses import replace

    from formulary.i18n import tr

    return replace(sheet, title=tr(sheet.title),
                   columns=[replace(c, header=tr(c.header)) for c in sheet.columns],
                   charts=tuple(replace(ch, title=tr(ch.title),
                                        x_title=tr(ch.x_title) if ch.x_title else ch.x_title,
                                        y_title=tr(ch.y_title) if ch.y_title else ch.y_title)
                                for ch in sheet.charts))


def _reader_print_words() -> PrintWords:
    """:class:`PrintWords` in the reader's language (the request's, or the one a job was
    asked in), the date in the locale's form."""
    from babel.dates import format_datetime

    from formulary.i18n import DATE_PATTERNS, _, _babel_locale, _lang

    pattern = DATE_PATTERNS.get(_lang(), DATE_PATTERNS["en"])[1]
    locale = _babel_locale()

    def generated(at: datetime, by: str) -> str:
        return _("Generated %(at)s by %(name)s",
                 at=format_datetime(at, pattern, locale=locale), name=by)
    # "&" is Excel's code in a footer: only &P and &N may come from the catalog
    page = _("Page &P of &N")
    if re.sub("&[PN]", "", page).count("&"):
        page = ENGLISH_PRINT.page
    return PrintWords(page=page, generated=generated, total=_("Total"))


def _words_in_reader_language() -> Callable[[str], str]:
    """The words for codes (:mod:`formulary.reports.words`) in the reader's language: in
    English the export's own words; in another, the page's word for the code (SPEC §13),
    first letter capital, else the English words."""
    from formulary.i18n import _lang

    if _lang() == "en":
        return code_words
    from formulary.display import CODE_WORDS, STATUS_WORDS

    def words(code: str) -> str:
        word = CODE_WORDS.get(code) or STATUS_WORDS.get(code)
        if word is None:
            return code_words(code)
        word = str(word)
        return word[:1].upper() + word[1:]
    return words


def _chart(ws: Any, spec: ChartSpec, columns: list[Column], last_data_row: int,
           money: str = MONEY_FORMAT) -> BarChart:
    chart = BarChart()
    chart.type = "bar" if spec.horizontal else "col"
    chart.title = spec.title
    chart.width, chart.height = spec.width, spec.height
    for col in spec.values_cols:
        # from row 1, so the series takes its name from the header
        chart.add_data(Reference(ws, min_col=col, min_row=1, max_row=last_data_row),
                       titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=spec.categories_col, min_row=2,
                                   max_row=last_data_row))
    first = columns[spec.values_cols[0] - 1]
    if first.kind in _NUMBER_FORMATS:
        chart.y_axis.number_format = money if first.kind == "money" else _NUMBER_FORMATS[first.kind]
    chart.x_axis.title = spec.x_title
    chart.y_axis.title = spec.y_title
    # openpyxl 3.1 leaves the axes' <c:delete> unset, which recent Excel reads as
    # "deleted": the chart would show bars without labels or scale.
    chart.x_axis.delete = False
    chart.y_axis.delete = False
    if len(spec.values_cols) == 1:
        chart.legend = None
    return chart


def _converter(ws: Any, column: Column, tz: tzinfo,
               money: str = MONEY_FORMAT) -> Callable[[Any], Any]:
    """The function turning one value of ``column`` into what ``ws.append`` takes.

    Built once per column. A styled value goes out in a cell owned by the column and
    reused for every row: a write-only sheet serialises each row inside ``append``,
    so the cell is free again when the next row comes, and no cell or style object is
    made per value. (Each such cell has a style, so openpyxl never borrows it as its
    own scratch cell.) Values that need no style (most text, dates: openpyxl gives a
    plain date our format) go out as plain values, the cheapest path openpyxl has.
    """
    header = column.header
    kind = column.kind

    if kind in ("text", "label"):
        cell = WriteOnlyCell(ws)
        cell.quotePrefix = True
        is_label = kind == "label"
        words = _words_in_reader_language() if column.words else None

        def text(value: Any) -> Any:
            if value is None:
                return None
            if type(value) is not str:
                if is_label:
                    value = getattr(value, "value", value)   # an Enum: its value
                value = str(value)
            if words:
                value = words(value)
            if (_NEEDS_CARE.search(value) is None and value not in _ERROR_CODES
                    and len(value) <= MAX_CELL_CHARS):
                # openpyxl writes such a string as text by itself: no cell needed
                return value or None
            cell.value = inert_text(value)
            cell.data_type = "s"      # after the value: setting it infers "f" for "=..."
            return cell
        return text

    if kind == "date" and _PLAIN_DATE_FORMAT == DATE_FORMAT:
        # openpyxl gives a plain date our number format by itself: no cell needed
        def plain_date(value: Any) -> Any:
            if value is None or type(value) is date:
                return value
            if isinstance(value, datetime):
                return _local(value, tz, header).date()
            if isinstance(value, date):
                return date(value.year, value.month, value.day)
            raise _wrong_type(header, "a date", value)
        return plain_date

    cell = WriteOnlyCell(ws)
    cell.number_format = money if kind == "money" else _NUMBER_FORMATS[kind]

    if kind == "date":
        def to_date(value: Any) -> Any:
            if value is None:
                return None
            if type(value) is not date:
                if isinstance(value, datetime):
                    value = _local(value, tz, header).date()
                elif not isinstance(value, date):
                    raise _wrong_type(header, "a date", value)
            cell.value = value
            return cell
        return to_date

    if kind == "datetime":
        def to_datetime(value: Any) -> Any:
            if value is None:
                return None
            if isinstance(value, datetime):
                value = _local(value, tz, header)
            elif isinstance(value, date):
                value = datetime(value.year, value.month, value.day)
            else:
                raise _wrong_type(header, "a datetime", value)
            cell.value = value
            return cell
        return to_datetime

    # decimal, money, int. openpyxl takes Decimal as it is and writes it as a number
    # ("%.16g"); an xlsx number is a double, so that is where any digit beyond the
    # 15th is lost, not here.
    def to_number(value: Any) -> Any:
        if value is None:
            return None
        t = type(value)
        if t is Decimal:
            if not value.is_finite():
                raise ValueError(f"column {header!r}: {value!r} is not a finite number")
        elif t is not int:
            if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
                raise _wrong_type(header, "a number", value)
            if not math.isfinite(value):
                raise ValueError(f"column {header!r}: {value!r} is not a finite number")
        cell.value = value
        return cell
    return to_number


def _local(value: datetime, tz: tzinfo, header: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"column {header!r}: naive datetime {value!r}; "
                         "give an aware datetime (UTC from the database)")
    return value.astimezone(tz).replace(tzinfo=None)


def _wrong_type(header: str, expected: str, value: Any) -> TypeError:
    return TypeError(f"column {header!r} expects {expected}, got "
                     f"{type(value).__name__} {value!r:.40}")


def _discard(sheets: list[Any]) -> None:
    """After a failure: close the sheets' streams and delete their temporary files
    (openpyxl would otherwise keep them until the process exits)."""
    for ws in sheets:
        with contextlib.suppress(Exception):
            if not ws.closed:
                ws.close()
        writer = getattr(ws, "_writer", None)
        if writer is not None:
            with contextlib.suppress(Exception):
                writer.cleanup()
