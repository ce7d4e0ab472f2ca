"""The rows of the ingredient and lot lists, written in Python.

A page of a list is 50 rows of 7 or 8 cells; written by the template, each cell costs a
Jinja expression, an escape and a filter call, which made the rows most of the page's
time. Here each row is one format string: text that comes from people (names, lot
numbers, suppliers, units) is escaped; quantities, dates and statuses are written by
the app's own formatting. The HTML is the one the templates wrote.
"""

from __future__ import annotations

from decimal import Decimal

from flask import url_for
from markupsafe import Markup, escape

from formulary.display import code_word, status_badge
from formulary.i18n import _, format_date_l
from formulary.i18n import format_qty_l as format_quantity

_LOT_ROW = """<tr data-lot="{number}">
    <td>{ingredient}</td>
    <td><a href="{url}">{number}</a></td>
    <td>{expiry}</td><td>{badge}</td>
    <td class="text-end">{received} {unit}</td>
    <td class="text-end" data-on-hand>{on_hand} {unit}</td>
    <td>{supplier}</td>
  </tr>"""


def lot_rows(rows, states: dict[int, str]) -> Markup:
    """``<tr>`` per lot: rows with the lot's columns, ``ingredient_name`` and ``unit``."""
    out = []
    for lot in rows:
        out.append(_LOT_ROW.format(
            number=escape(lot.lot_number), ingredient=escape(lot.ingredient_name),
            url=url_for("inventory.lot", lot_id=lot.id), expiry=format_date_l(lot.expiry_date),
            badge=status_badge(states[lot.id]), received=format_quantity(lot.quantity_received),
            on_hand=format_quantity(lot.quantity_on_hand), unit=escape(lot.unit),
            supplier=escape(lot.supplier)))
    return Markup("\n  ".join(out))


_INGREDIENT_ROW = """<tr data-ingredient="{name}"{warning}>
    <td><a href="{url}">{name}</a>
      {inactive}
      {multi_dose}</td>
    <td>{category}</td>
    <td>{strength}</td>
    <td class="text-end" data-usable>{usable} {unit}{low}</td>
    <td class="text-end">{on_hand} {unit}</td>
    <td class="text-end">{reorder}</td>
    <td class="small">{groups}</td>
    <td>{storage}</td>
  </tr>"""


def ingredient_rows(rows, usable: dict[int, Decimal], on_hand: dict[int, Decimal],
                    groups: dict[int, str]) -> Markup:
    """``<tr>`` per ingredient, flagged low when its usable stock is below its reorder
    level."""
    out = []
    for i in rows:
        low = i.reorder_level is not None and usable[i.id] < i.reorder_level
        unit = escape(i.unit)
        strength = ("" if i.strength_amount is None else
                    f"{format_quantity(i.strength_amount)} {escape(i.strength_unit)}/mL")
        out.append(_INGREDIENT_ROW.format(
            name=escape(i.name), warning=' class="table-warning"' if low else "",
            url=url_for("inventory.ingredient", ingredient_id=i.id),
            inactive="" if i.active else f'<span class="badge text-bg-secondary">{escape(_("inactive"))}</span>',
            multi_dose=f'<span class="badge text-bg-info">{escape(_("multi-dose"))}</span>' if i.multi_dose else "",
            category=escape(code_word(i.category)), strength=strength,
            usable=format_quantity(usable[i.id]), unit=unit,
            low=f' <span class="badge text-bg-warning">{escape(_("low"))}</span>' if low else "",
            on_hand=format_quantity(on_hand[i.id]),
            reorder="—" if i.reorder_level is None else format_quantity(i.reorder_level),
            groups=escape(groups.get(i.id, "")), storage=escape(code_word(i.storage))))
    return Markup("\n  ".join(out))
