"""Demo cocktails, made through the services as a pharmacist would make them.

Uses ``ctx["ingredients"]`` (name -> Ingredient, from the inventory demo) and
``ctx["users"]``; sets ``ctx["cocktails"] = {name: Cocktail}``. Some are approved, some
stay drafts, one has a pending draft version 2, one is retired.
"""

from __future__ import annotations

from formulary.cocktails import services
from formulary.domain.doses import ComponentInput

LIDO = "Lidocaine 2% preservative-free"
HAIR_MIX = (("Biotin 5 mg/mL", "10", "mg"), ("Dexpanthenol 250 mg/mL", "250", "mg"),
            ("Vitamin B complex", "1", "mL"), ("Zinc sulfate 1 mg/mL", "2", "mg"),
            ("L-cysteine 50 mg/mL", "50", "mg"))

# name, area, indication, storage, components, what happens to it, notes
COCKTAILS = (
    ("Dutasteride 0.05% scalp", "scalp", "Androgenetic alopecia", "room",
     (("Dutasteride 0.05%", "1", "mL"),), "active",
     "Nappage over the thinning areas, 4 mm depth; every 4 weeks for 3 sessions."),
    ("Hair vitality complex", "scalp", "Diffuse hair loss, telogen effluvium", "fridge",
     HAIR_MIX, "active", "Micro-papules 1 cm apart over the whole scalp."),
    ("Hair vitality complex with lidocaine", "scalp", "Diffuse hair loss, sensitive scalp", "fridge",
     HAIR_MIX + ((LIDO, "20", "mg"),), "active_with_draft",
     "For patients who find scalp injections painful."),
    ("Finasteride and minoxidil scalp", "scalp", "Androgenetic alopecia", "room",
     (("Finasteride 0.05%", "0.5", "mg"), ("Minoxidil 2%", "10", "mg")), "draft", ""),
    ("Face glow: hyaluronic acid and vitamins", "face", "Skin rejuvenation, dull skin", "fridge",
     (("Hyaluronic acid 1% non-crosslinked", "20", "mg"), ("Ascorbic acid 100 mg/mL", "100", "mg"),
      ("Nicotinamide 100 mg/mL", "50", "mg"), ("Vitamin B complex", "0.5", "mL")), "active",
     "Mesolift technique; avoid the periorbital area."),
    ("Neck and décolleté revitalising", "neck", "Crepey skin, fine lines", "fridge",
     (("Hyaluronic acid 1% non-crosslinked", "10", "mg"),
      ("Organic silicon 0.5% (monomethylsilanetriol)", "10", "mg"),
      ("Centella asiatica extract 20 mg/mL", "20", "mg")), "draft", ""),
    ("Hands rejuvenation", "hands", "Photo-aged skin of the back of the hands", "fridge",
     (("Hyaluronic acid 1% non-crosslinked", "10", "mg"), ("Glutathione 150 mg/mL", "150", "mg")),
     "active", ""),
    ("Body contour PC/DC", "body", "Localised fat (abdomen, flanks)", "room",
     (("Phosphatidylcholine 50 mg/mL + deoxycholate 47.5 mg/mL with benzyl alcohol", "250", "mg"),
      (LIDO, "0.5", "mL")), "active",
     "Deep injection in the subcutaneous fat, 1.5 cm apart; never into the skin."),
    ("Cellulite carnitine and caffeine", "body", "Cellulite", "room",
     (("L-carnitine 200 mg/mL", "400", "mg"), ("Caffeine 25 mg/mL", "50", "mg"),
      ("Artichoke leaf extract 50 mg/mL", "50", "mg")), "retired", ""),
)


def load(session, ctx: dict) -> None:
    ingredients = ctx.get("ingredients") or {}
    users = ctx.get("users") or {}
    author = users.get("pharmacist")
    approver = users.get("pharmacist2") or author
    made = {}
    for name, area, indication, storage, components, fate, notes in COCKTAILS:
        missing = [c[0] for c in components if c[0] not in ingredients]
        if missing:
            raise RuntimeError(f"Demo cocktail {name!r} needs ingredients the inventory demo "
                               f"did not make: {', '.join(missing)}.")
        data = services.CocktailInput(
            name=name, area=area, indication=indication, storage=storage, notes=notes,
            components=[ComponentInput(ingredients[n].id, amount, unit)
                        for n, amount, unit in components])
        cocktail = services.create_cocktail(session, author, data)
        if fate != "draft":
            services.approve_cocktail(session, approver, cocktail.id)
        if fate == "active_with_draft":
            # version 2 halves the anaesthetic; version 1 stays in force until approved
            changed = [c for c in data.components if c.ingredient_id != ingredients[LIDO].id]
            changed.append(ComponentInput(ingredients[LIDO].id, "10", "mg"))
            services.update_cocktail(session, author, cocktail.id, services.CocktailInput(
                name=name, area=area, indication=indication, storage=storage,
                notes=notes + " Version 2: half the lidocaine.", components=changed))
        if fate == "retired":
            services.retire_cocktail(session, approver, cocktail.id,
                                     reason="Replaced by the body contour protocol.")
        made[name] = cocktail
    ctx["cocktails"] = made
