"""The columns the ingredient and lot lists sort by (pages and API alike)."""

from __future__ import annotations

from formulary.inventory.models import Ingredient, Lot
from formulary.listing import SortColumns

INGREDIENT_SORT = SortColumns(
    columns={"name": Ingredient.name_key, "category": Ingredient.category,
             "unit": Ingredient.unit, "reorder_level": Ingredient.reorder_level,
             "storage": Ingredient.storage},
    default="name", tiebreak=(Ingredient.id,))

#: The lot lists join the ingredient (its name sorts them).
LOT_SORT = SortColumns(
    columns={"expiry": Lot.expiry_date, "ingredient": Ingredient.name_key,
             "lot": Lot.lot_number, "status": Lot.status, "received": Lot.quantity_received,
             "on_hand": Lot.quantity_on_hand, "supplier": Lot.supplier,
             "received_at": Lot.received_at},
    default="expiry", tiebreak=(Lot.id,))
