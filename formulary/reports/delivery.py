"""Reading a supplier's delivery sheet (.xlsx) into rows to receive (SPEC §8).

The first sheet holds a header row, then one row per lot. The header names the columns
``ingredient`` (its name) or ``gtin``, ``lot``, ``expiry``, ``quantity``, and optionally
``unit_cost`` and ``supplier``; case, spacing, ``-``/``_`` and column order are free
("Unit cost", "UNIT_COST", " unit-cost " all name ``unit_cost``). Empty rows are skipped.

Every row is checked and every problem is collected, with the row number Excel shows;
one problem refuses the whole file (:class:`DeliveryFileError`). What is checked here is
the sheet itself. Whether the ingredient or GTIN is known, whether the lot has expired
today and whether it clashes with a lot already received are the receiving service's
questions: it knows the database and the clinic's date.

How cell values are read:

- text columns (``ingredient``, ``lot``, ``supplier``) take text, surrounding spaces
  removed; a whole number in a lot cell is taken as its digits (Excel stores "12345"
  typed into a General cell as a number: any leading zero is gone by then, and
  :func:`template_workbook` formats its text columns as text to prevent that); a lot
  that Excel turned into a date, or a number with decimals, is refused;
- ``gtin``: text or a number, returned as the 14 digits AI 01 carries, check digit
  verified (:func:`formulary.domain.gs1.normalize_gtin`). A number's lost leading zeros
  are restored by padding to 14 digits: a GTIN's leading zeros are padding, so that
  is the same GTIN. Text must have 8, 12, 13 or 14 digits;
- ``expiry``: a real Excel date (or date-time: its date is taken), or text
  ``YYYY-MM-DD``; anything else, and impossible dates such as 2026-02-30, is refused;
- ``quantity`` (positive) and ``unit_cost`` (zero or more, may be empty): numbers or
  number text, exact to at most 4 decimals (:func:`formulary.domain.units.parse_quantity`).
  Excel stores numbers as doubles; a number cell is read as the shortest decimal that
  gives back the same double (``Decimal(repr(x))``), which is what Excel shows, so 2.5
  is 2.5 and 0.1 is 0.1, and 1/3 is refused for its decimals.

A cell holding an Excel error (``#N/A``) is refused wherever it is. A formula is read
through the value Excel saved with it; a file saved by a program that does not compute
formulas has none, and the cell reads as empty.
"""

from __future__ import annotations

import re
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timezone, tzinfo
from decimal import Decimal
from typing import Any, BinaryIO

from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from formulary.domain.dates import FIRST_DATE, LAST_DATE
from formulary.domain.errors import ValidationError
from formulary.domain.text import REFUSED_MESSAGE, clean_text, refused_character
from formulary.domain.gs1 import normalize_gtin
from formulary.domain.messages import lower_first, msg
from formulary.domain.units import parse_quantity
from formulary.reports.workbook import Column, Sheet, TitleBlock, write_workbook

__all__ = ["COLUMNS", "DAMAGED", "NOT_A_WORKBOOK", "NO_ROWS", "DeliveryFileError",
           "DeliveryRow", "problem_sentence", "read_delivery", "template_workbook"]

#: The columns a delivery sheet may have, in the template's order.
COLUMNS = ("ingredient", "gtin", "lot", "expiry", "quantity", "unit_cost", "supplier")
_REQUIRED = ("lot", "expiry", "quantity")

# Every reason is a Message (formulary.domain.messages): English here, the reader's
# language where it is shown.
NOT_A_WORKBOOK = msg("This file is not an Excel workbook (.xlsx).")
NO_ROWS = msg("The sheet has no rows to import.")
DAMAGED = msg("The first sheet of this workbook cannot be read: the file may be damaged.")

# Defences against a small upload that unpacks into a huge sheet: no part of the file
# may unpack to more than this (a 5,000-row delivery sheet is about 2 MB of XML) ...
MAX_PART_BYTES = 20 * 2**20
# ... and rows are read down to at most this many times max_rows below the header,
# blank ones included (a sheet formatted far below its data).
_SCAN_FACTOR = 10

_DATE_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_HEADER_SEPARATORS = re.compile(r"[\s_\-]+")


@dataclass(frozen=True)
class DeliveryRow:
    """One lot of a delivery sheet, as checked here (see the module docstring).

    ``row`` is the row number Excel shows. ``gtin`` is 14 digits. At least one of
    ``ingredient`` and ``gtin`` is set; the service resolves them.
    """

    row: int
    ingredient: str | None
    gtin: str | None
    lot: str
    expiry: date
    quantity: Decimal
    unit_cost: Decimal | None
    supplier: str | None


class DeliveryFileError(ValidationError):
    """The delivery sheet was refused, whole. ``problems`` lists every reason as
    ``(row, reason)``: the row number Excel shows, or None for the file itself.
    ``fields["file"]`` holds the same problems as sentences ("Row 7: ...").
    ``rows``: when only some rows were bad, the rows that were read well (so a caller
    can check them further and report every bad row at once); otherwise None."""

    def __init__(self, problems: list[tuple[int | None, str]],
                 rows: list["DeliveryRow"] | None = None):
        self.problems = list(problems)
        self.rows = rows
        lines = [problem_sentence(row, reason) for row, reason in self.problems]
        if len(lines) == 1:
            message = lines[0]
        else:
            message = msg("The delivery sheet was refused: %(count)s problems. "
                          "Nothing was received.", count=len(lines))
        super().__init__(message, fields={"file": lines})


def problem_sentence(row: int | None, reason: str) -> str:
    """A problem as one sentence: ``Row 7: ...``, or the reason alone for the file."""
    return reason if row is None else msg("Row %(row)s: %(reason)s", row=row, reason=reason)


def read_delivery(fileobj: BinaryIO, *, max_rows: int = 5000) -> list[DeliveryRow]:
    """Read and check the first sheet of the .xlsx in ``fileobj`` (binary, seekable).

    Returns one :class:`DeliveryRow` per non-empty row, in sheet order, when every row
    is good. Otherwise raises :class:`DeliveryFileError` with every problem found: the
    file itself (not a workbook, no header, unknown, repeated or missing columns, no
    rows, more than ``max_rows`` rows), or each bad row with its number and reason.
    """
    _check_parts(fileobj)
    with warnings.catch_warnings():
        # openpyxl warns about parts it drops (data validation extensions, ...):
        # nothing this reader uses
        warnings.filterwarnings("ignore", category=UserWarning, module=r"openpyxl\.")
        try:
            wb = load_workbook(fileobj, read_only=True, data_only=True)
        except Exception as exc:
            raise DeliveryFileError([(None, NOT_A_WORKBOOK)]) from exc
        try:
            return _read_first_sheet(wb, max_rows)
        finally:
            wb.close()


def template_workbook(out: BinaryIO, *, title: TitleBlock | None = None,
                      tz: tzinfo = timezone.utc) -> None:
    """Write a delivery sheet to fill in: the header row and one example row. Its text
    columns are formatted as text, so lot numbers and GTINs keep their leading zeros.
    ``title`` goes into the printed page header only: the header row stays the first
    row, as :func:`read_delivery` reads it back."""
    columns = [
        Column("Ingredient", "text", width=30),
        Column("GTIN", "text", width=17),
        Column("Lot", "text", width=14),
        Column("Expiry", "date", width=12),
        Column("Quantity", "decimal", width=11),
        Column("Unit cost", "decimal", width=11),
        Column("Supplier", "text", width=24),
    ]
    example = ("Biotin 5 mg/mL", None, "B24-0117", date(date.today().year + 2, 12, 31),
               Decimal("10"), Decimal("4.5"), "Example Pharma Ltd")
    write_workbook([Sheet("Delivery", columns, [example])], out, title=title, tz=tz)


# ------------------------------------------------------------------------- internals

def _check_parts(fileobj: BinaryIO) -> None:
    try:
        with zipfile.ZipFile(fileobj) as archive:
            sizes = [info.file_size for info in archive.infolist()]
    except Exception as exc:  # BadZipFile, OSError, ...: not a zip at all
        raise DeliveryFileError([(None, NOT_A_WORKBOOK)]) from exc
    finally:
        fileobj.seek(0)
    if any(size > MAX_PART_BYTES for size in sizes):
        raise DeliveryFileError([(None, msg("This workbook is too large to be a delivery "
                                            "sheet: keep only the delivery in it."))])


def _rows(ws: Any) -> Iterator[tuple[int, tuple[Any, ...]]]:
    """(row number as Excel shows it, cells) for every row, empty ones included."""
    # Some programs write a wrong sheet size ("A1:A1") that read-only mode would obey:
    # forget it and read what is there. Missing rows come back empty, so counting from
    # row 1 gives the row number Excel shows.
    ws.reset_dimensions()
    source = ws.iter_rows(min_row=1)
    number = 0
    while True:
        try:
            cells = next(source)
        except StopIteration:
            return
        except Exception as exc:  # the sheet's XML is damaged: openpyxl gave up
            raise DeliveryFileError([(None, DAMAGED)]) from exc
        number += 1
        yield number, cells


def _read_first_sheet(wb: Any, max_rows: int) -> list[DeliveryRow]:
    if not wb.worksheets:
        raise DeliveryFileError([(None, NO_ROWS)])
    rows = _rows(wb.worksheets[0])
    header = _find_header(rows)
    if header is None:
        raise DeliveryFileError([(None, NO_ROWS)])
    header_row, header_cells = header
    columns = _columns(header_cells)
    result, problems = _read_rows(rows, columns, header_row, max_rows)
    if problems:
        raise DeliveryFileError(problems, rows=result)
    if not result:
        raise DeliveryFileError([(None, NO_ROWS)])
    return result


def _is_empty(cells: tuple[Any, ...]) -> bool:
    return all(_blank(cell.value) for cell in cells)


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _find_header(rows: Iterator[tuple[int, tuple[Any, ...]]]
                 ) -> tuple[int, tuple[Any, ...]] | None:
    for number, cells in rows:
        if not _is_empty(cells):
            return number, cells
    return None


def _header_name(value: Any) -> str:
    return _HEADER_SEPARATORS.sub("_", str(value).strip().lower()).strip("_")


def _columns(cells: tuple[Any, ...]) -> dict[str, int]:
    """Column name -> 0-based position, or DeliveryFileError naming what is wrong."""
    positions: dict[str, list[int]] = {}
    unknown: list[tuple[int, str]] = []
    for idx, cell in enumerate(cells):
        if _blank(cell.value):
            continue
        name = _header_name(cell.value)
        if name in COLUMNS:
            positions.setdefault(name, []).append(idx)
        else:
            unknown.append((idx, str(cell.value).strip()))

    if not positions:
        raise DeliveryFileError([(None, msg(
            "The sheet has no header row. The first row must name the columns: ingredient or "
            "gtin, lot, expiry, quantity, and optionally unit_cost and supplier."))])
    problems: list[tuple[int | None, str]] = []
    for idx, text in unknown:
        problems.append((None, msg("Unknown column '%(text)s' (column %(letter)s): the columns "
                                   "are %(columns)s.", text=text,
                                   letter=get_column_letter(idx + 1), columns=", ".join(COLUMNS))))
    for name, where in positions.items():
        if len(where) > 1:
            letters = ", ".join(get_column_letter(i + 1) for i in where)
            problems.append((None, msg("The column %(name)s appears more than once "
                                       "(columns %(letters)s).", name=name, letters=letters)))
    for name in _REQUIRED:
        if name not in positions:
            problems.append((None, msg("Missing column: %(name)s.", name=name)))
    if "ingredient" not in positions and "gtin" not in positions:
        problems.append((None, msg("Missing column: ingredient or gtin (at least one).")))
    if problems:
        raise DeliveryFileError(problems)
    return {name: where[0] for name, where in positions.items()}


def _read_rows(rows: Iterator[tuple[int, tuple[Any, ...]]], columns: dict[str, int],
               header_row: int, max_rows: int
               ) -> tuple[list[DeliveryRow], list[tuple[int | None, str]]]:
    result: list[DeliveryRow] = []
    problems: list[tuple[int | None, str]] = []
    known = set(columns.values())
    last_row = header_row + max_rows * _SCAN_FACTOR
    count = 0
    for number, cells in rows:
        if number > last_row:
            raise DeliveryFileError([(None, msg(
                "The sheet goes on past row %(last_row)s; at most %(max_rows)s rows are read. "
                "Delete the empty rows below the data.", last_row=last_row, max_rows=max_rows))])
        if _is_empty(cells):
            continue
        count += 1
        if count > max_rows:
            raise DeliveryFileError([(None, msg("The sheet has more than %(max_rows)s rows: "
                                                "split it into smaller files.",
                                                max_rows=max_rows))])
        row_problems = _row_problems_outside(cells, known)
        delivery_row = _read_row(number, cells, columns, row_problems)
        if row_problems:
            row_problems.sort(key=lambda problem: problem[0])   # in the sheet's order
            problems.extend((number, reason) for _, reason in row_problems)
        elif delivery_row is not None:
            result.append(delivery_row)
    return result, problems


def _row_problems_outside(cells: tuple[Any, ...], known: set[int]) -> list[tuple[float, str]]:
    return [(idx, msg("Column %(letter)s has a value but no header.",
                      letter=get_column_letter(idx + 1)))
            for idx, cell in enumerate(cells)
            if idx not in known and not _blank(cell.value)]


class _Refused(Exception):
    """One cell's reason, caught per cell so that every cell of a row is checked."""


def _read_row(number: int, cells: tuple[Any, ...], columns: dict[str, int],
              problems: list[tuple[float, str]]) -> DeliveryRow | None:
    """The row, or None after adding (column position, reason) for each bad cell."""
    def cell(name: str) -> Any:
        idx = columns.get(name)
        if idx is None or idx >= len(cells):
            return None
        found = cells[idx]
        if found.data_type == "e":
            raise _Refused(msg("%(label)s: the cell holds the Excel error %(error)s.",
                               label=_LABELS[name], error=str(found.value)))
        return found.value

    values: dict[str, Any] = {}
    for name, parse in _PARSERS.items():
        try:
            values[name] = parse(cell(name))
        except _Refused as refusal:
            problems.append((columns.get(name, -1), refusal.args[0]))
        except ValidationError as exc:
            problems.append((columns.get(name, -1), _with_label(name, exc.message)))
    if ("ingredient" in values and "gtin" in values
            and values["ingredient"] is None and values["gtin"] is None):
        problems.append((float("inf"), msg("Give the ingredient's name or its GTIN.")))
    if problems:
        return None
    return DeliveryRow(row=number, **values)


_LABELS = {"ingredient": msg("Ingredient"), "gtin": msg("GTIN"), "lot": msg("Lot"),
           "expiry": msg("Expiry"), "quantity": msg("Quantity"), "unit_cost": msg("Unit cost"),
           "supplier": msg("Supplier")}


def _with_label(name: str, message: str) -> str:
    label = _LABELS[name]
    if message.lower().startswith(label.lower()):
        return message
    return msg("%(label)s: %(reason)s", label=label, reason=lower_first(message))


def _shown(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 40 else text[:40] + "..."


def _text(name: str, value: Any, *, required: bool) -> str | None:
    if isinstance(value, str):
        # A file is an edge too: the same cleaning as a request's text (SPEC §3).
        if refused_character(value):
            raise _Refused(_with_label(name, REFUSED_MESSAGE))
        value = " ".join(clean_text(value).split())
    elif isinstance(value, bool):
        raise _Refused(msg("%(label)s must be text, not %(value)s.", label=_LABELS[name],
                           value=str(value)))
    elif isinstance(value, (datetime, date)):
        raise _Refused(msg("%(label)s %(date)s is a date: Excel converted what was typed. "
                           "Format the column as text and type it again.", label=_LABELS[name],
                           date=value.date() if isinstance(value, datetime) else value))
    elif isinstance(value, int):
        value = str(value)
    elif isinstance(value, float):
        if not value.is_integer():
            raise _Refused(msg("%(label)s %(value)s is a number with decimals: format the "
                               "column as text so it keeps what was typed.",
                               label=_LABELS[name], value=repr(value)))
        value = str(int(value))
    elif value is not None:
        raise _Refused(msg("%(label)s must be text.", label=_LABELS[name]))
    if not value:
        if required:
            raise _Refused(msg("%(label)s is empty.", label=_LABELS[name]))
        return None
    return value


def _ingredient(value: Any) -> str | None:
    return _text("ingredient", value, required=False)


def _lot(value: Any) -> str:
    return _text("lot", value, required=True)  # type: ignore[return-value]


def _supplier(value: Any) -> str | None:
    return _text("supplier", value, required=False)


def _gtin(value: Any) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, float) and value.is_integer() and 0 < value < 1e14:
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        if not 0 < value < 10**14:
            raise _Refused(msg("GTIN %(value)s has more than 14 digits.", value=str(value)))
        value = str(value).zfill(14)  # a number's leading zeros are GTIN padding
    elif not isinstance(value, str):
        raise _Refused(msg("GTIN '%(value)s' is not a GTIN: give its digits.",
                           value=_shown(value)))
    return normalize_gtin(value, field="gtin")


def _expiry(value: Any) -> date:
    return _bounded(_expiry_date(value))


def _bounded(day: date) -> date:
    # formulary.domain.dates.check_date_bounds's rule, said of the expiry
    if not FIRST_DATE <= day <= LAST_DATE:
        raise _Refused(msg("Expiry %(date)s is out of range: give the expiry from %(first)s "
                           "to %(last)s.", date=day, first=FIRST_DATE, last=LAST_DATE))
    return day


def _expiry_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if value is None or (isinstance(value, str) and not value.strip()):
        raise _Refused(msg("Expiry is empty."))
    if isinstance(value, str):
        text = value.strip()
        if _DATE_TEXT.fullmatch(text):
            try:
                return date.fromisoformat(text)
            except ValueError:
                raise _Refused(msg("Expiry %(text)s is not a real date.", text=text)) from None
        raise _Refused(msg("Expiry '%(text)s' is not a date: give it as YYYY-MM-DD or as an "
                           "Excel date.", text=_shown(text)))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        raise _Refused(msg("Expiry %(value)s is a number, not a date: format the cell as a "
                           "date.", value=repr(value)))
    raise _Refused(msg("Expiry '%(value)s' is not a date.", value=_shown(value)))


def _number(name: str, value: Any) -> Any:
    """A number cell as parse_quantity takes it: a float as the decimal Excel shows."""
    if isinstance(value, float):
        return Decimal(repr(value))   # NaN/inf are refused by parse_quantity
    if isinstance(value, (datetime, date)):
        raise _Refused(msg("%(label)s must be a number, not a date.", label=_LABELS[name]))
    return value


def _quantity(value: Any) -> Decimal:
    return parse_quantity(_number("quantity", value), field="quantity")


def _unit_cost(value: Any) -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return parse_quantity(_number("unit_cost", value), field="unit_cost", allow_zero=True)


_PARSERS = {
    "ingredient": _ingredient, "gtin": _gtin, "lot": _lot, "expiry": _expiry,
    "quantity": _quantity, "unit_cost": _unit_cost, "supplier": _supplier,
}
