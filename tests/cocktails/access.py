"""Who may open each cocktail route (SPEC §2): endpoint -> permission."""

from formulary.auth import permissions as P

ROUTES = {
    "cocktails.index": P.VIEW,
    "cocktails.detail": P.VIEW,
    "cocktails.diff": P.VIEW,
    "cocktails.sheet": P.VIEW,
    "cocktails.new": P.COCKTAILS_EDIT,
    "cocktails.edit": P.COCKTAILS_EDIT,
    "cocktails.preview": P.COCKTAILS_EDIT,
    "cocktails.approve": P.COCKTAILS_APPROVE,
    "cocktails.retire": P.COCKTAILS_APPROVE,
    "api.list_cocktails": P.VIEW,
    "api.create_cocktail": P.COCKTAILS_EDIT,
    "api.get_cocktail": P.VIEW,
    "api.update_cocktail": P.COCKTAILS_EDIT,
    "api.approve_cocktail": P.COCKTAILS_APPROVE,
    "api.retire_cocktail": P.COCKTAILS_APPROVE,
    "api.get_cocktail_version": P.VIEW,
}
