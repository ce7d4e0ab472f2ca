"""Who may open each inventory route (SPEC §2): endpoint -> permission."""

from formulary.auth import permissions as P

ROUTES = {
    "inventory.ingredients": P.VIEW,
    "inventory.ingredient": P.VIEW,
    "inventory.ingredient_new": P.INVENTORY,
    "inventory.ingredient_edit": P.INVENTORY,
    "inventory.lots": P.VIEW,
    "inventory.lot": P.VIEW,
    "inventory.lot_adjust": P.INVENTORY,
    "inventory.lot_status": P.INVENTORY,
    "inventory.receive": P.INVENTORY,
    "inventory.allergen_groups": P.ADMIN,
    "inventory.allergen_group_edit": P.ADMIN,
    "api.list_ingredients": P.VIEW,
    "api.create_ingredient": P.INVENTORY,
    "api.get_ingredient": P.VIEW,
    "api.update_ingredient": P.INVENTORY,
    "api.list_allergen_groups": P.VIEW,
    "api.create_allergen_group": P.ADMIN,
    "api.update_allergen_group": P.ADMIN,
    "api.list_lots": P.VIEW,
    "api.receive_lot": P.INVENTORY,
    "api.receive_scan": P.INVENTORY,
    "api.get_lot": P.VIEW,
    "api.adjust_lot": P.INVENTORY,
    "api.set_lot_status": P.INVENTORY,
    "api.lot_movements": P.VIEW,
}
