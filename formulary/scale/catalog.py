"""The catalogue of a year-scale clinic: allergen groups (the inventory demo's table),
about 200 ingredients and 300 cocktails with their versions, as plain rows for bulk insert.

The 37 products of the inventory demo come first; the rest are further presentations of
real substances (other strengths and suppliers' packs), so that names, categories, units,
strengths, allergen groups and maximum doses stay realistic.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from formulary.inventory.demo import GROUPS, PAIRS, PRODUCTS, gtin_for

# substance, category, strength unit, strengths per mL, allergen groups, contraindications,
# storage. None as strengths: a diluent (no strength).
SUBSTANCES = (
    ("Biotin", "vitamin", "mg", ("1", "2.5", "10"), (), (), "room"),
    ("Dexpanthenol", "vitamin", "mg", ("50", "100", "500"), (), (), "room"),
    ("Ascorbic acid", "vitamin", "mg", ("50", "200", "500"), ("ascorbic acid",), (), "fridge"),
    ("Pyridoxine", "vitamin", "mg", ("25", "100"), (), (), "room"),
    ("Riboflavin", "vitamin", "mg", ("5", "10"), (), (), "room"),
    ("Folic acid", "vitamin", "mg", ("1", "5"), (), (), "room"),
    ("Tocopherol", "vitamin", "mg", ("50", "100"), (), (), "room"),
    ("Retinol palmitate", "vitamin", "IU", ("50000", "100000"), (), ("pregnant", "breastfeeding"), "fridge"),
    ("Nicotinamide", "vitamin", "mg", ("50", "200"), (), (), "room"),
    ("Cyanocobalamin", "vitamin", "mg", ("0.5", "2"), ("cobalamins",), (), "room"),
    ("Zinc gluconate", "mineral", "mg", ("2", "5"), (), (), "room"),
    ("Copper gluconate", "mineral", "mg", ("0.5", "1"), (), (), "room"),
    ("Selenium", "mineral", "mcg", ("50", "100"), (), (), "room"),
    ("Magnesium chloride", "mineral", "mg", ("100", "200"), (), (), "room"),
    ("Organic silicon", "mineral", "mg", ("2", "10"), (), (), "room"),
    ("Manganese gluconate", "mineral", "mg", ("0.5", "1"), (), (), "room"),
    ("L-cysteine", "amino_acid", "mg", ("25", "100"), (), (), "room"),
    ("L-carnitine", "amino_acid", "mg", ("100", "300"), (), (), "room"),
    ("L-arginine", "amino_acid", "mg", ("50", "200"), (), (), "room"),
    ("Glycine", "amino_acid", "mg", ("50", "100"), (), (), "room"),
    ("L-proline", "amino_acid", "mg", ("50", "100"), (), (), "room"),
    ("L-lysine", "amino_acid", "mg", ("50", "100"), (), (), "room"),
    ("Methionine", "amino_acid", "mg", ("25", "50"), (), (), "room"),
    ("Glutathione", "peptide", "mg", ("50", "300"), (), (), "fridge"),
    ("Acetyl hexapeptide-8", "peptide", "mg", ("0.5", "1"), (), (), "fridge"),
    ("Palmitoyl pentapeptide-4", "peptide", "mg", ("0.5", "1"), (), (), "fridge"),
    ("Copper tripeptide GHK-Cu", "peptide", "mg", ("1", "5"), (), (), "fridge"),
    ("Hyaluronic acid non-crosslinked", "hyaluronic_acid", "mg", ("5", "15", "20"), (), (), "room"),
    ("Sodium hyaluronate low molecular weight", "hyaluronic_acid", "mg", ("10", "18"), (), (), "room"),
    ("Minoxidil", "drug", "mg", ("10", "50"), ("minoxidil",), ("pregnant", "breastfeeding"), "room"),
    ("Finasteride", "drug", "mg", ("0.25", "1"), ("5-alpha-reductase inhibitors",), ("pregnant", "breastfeeding"), "room"),
    ("Dutasteride", "drug", "mg", ("0.1", "0.25"), ("5-alpha-reductase inhibitors",), ("pregnant", "breastfeeding"), "room"),
    ("Tranexamic acid", "drug", "mg", ("50", "250"), (), ("anticoagulant_therapy",), "room"),
    ("Deoxycholic acid", "drug", "mg", ("5", "20"), ("deoxycholate",), ("pregnant", "breastfeeding"), "room"),
    ("Phosphatidylcholine", "drug", "mg", ("25", "100"), ("soy", "phosphatidylcholine"), ("pregnant", "breastfeeding"), "room"),
    ("Buflomedil", "drug", "mg", ("25", "50"), (), ("pregnant",), "room"),
    ("Pentoxifylline", "drug", "mg", ("20", "50"), (), ("anticoagulant_therapy",), "room"),
    ("Lidocaine", "anesthetic", "mg", ("5", "10", "15"), ("amide local anesthetic",), (), "room"),
    ("Mepivacaine", "anesthetic", "mg", ("10", "20", "30"), ("amide local anesthetic",), (), "room"),
    ("Procaine", "anesthetic", "mg", ("10", "50"), ("ester local anesthetic",), (), "room"),
    ("Hyaluronidase", "enzyme", "U", ("150", "1500"), ("hyaluronidase", "ovine proteins"), (), "fridge"),
    ("Collagenase", "enzyme", "U", ("100", "500"), ("bovine proteins",), (), "fridge"),
    ("Artichoke leaf extract", "plant_extract", "mg", ("25", "100"), (), (), "room"),
    ("Ginkgo biloba extract", "plant_extract", "mg", ("2", "7"), (), ("anticoagulant_therapy",), "room"),
    ("Centella asiatica extract", "plant_extract", "mg", ("10", "40"), (), (), "room"),
    ("Melilotus extract", "plant_extract", "mg", ("5", "20"), (), ("anticoagulant_therapy",), "room"),
    ("Horse chestnut extract", "plant_extract", "mg", ("5", "10"), (), (), "room"),
    ("Green tea extract", "plant_extract", "mg", ("10", "25"), (), (), "room"),
    ("Caffeine", "other", "mg", ("10", "50"), (), (), "room"),
    ("DMAE", "other", "mg", ("10", "50"), (), (), "room"),
    ("Alpha-lipoic acid", "other", "mg", ("10", "50"), ("sulfites",), (), "room"),
    ("Coenzyme Q10", "other", "mg", ("5", "10"), (), (), "fridge"),
    ("Polynucleotides", "other", "mg", ("7.5", "20"), (), (), "fridge"),
    ("Sodium chloride 0.9%", "diluent", None, None, (), (), "room"),
    ("Bacteriostatic water with benzyl alcohol", "diluent", None, None, ("benzyl alcohol",), (), "room"),
    ("Lactated Ringer's solution", "diluent", None, None, (), (), "room"),
)
PACKS = ("2 mL ampoule", "5 mL vial", "10 mL vial", "20 mL vial")
MAKERS = ("Mesopharm", "Esthederm Pro", "Pharma-Med", "Dermaline", "Viatris Aesthetics")
SUPPLIERS = ("Mesopharm Distribution", "Laboratoires Esthederm Pro", "Pharma-Med Supply",
             "Dermaline Wholesale", "Alliance Healthcare")

AREAS = ("scalp", "face", "neck", "body", "hands")
THEMES = {
    "scalp": ("Hair vitality", "Scalp revitalising", "Anti hair-loss", "Hair density"),
    "face": ("Face glow", "Anti-ageing face", "Brightening", "Skin booster", "Acne scar"),
    "neck": ("Neck and décolleté", "Neck firming"),
    "body": ("Body contour", "Cellulite", "Stretch marks", "Lymphatic drainage"),
    "hands": ("Hands rejuvenation", "Hand skin booster"),
}
PER_DOSE_ML = (Decimal("0.1"), Decimal("0.2"), Decimal("0.25"), Decimal("0.5"), Decimal("1"))


def dec(text) -> Decimal | None:
    return None if text is None else Decimal(str(text))


def groups_rows() -> tuple[list[dict], list[dict], dict[str, int]]:
    ids = {name: n for n, (name, _) in enumerate(GROUPS, start=1)}
    groups = [{"id": ids[name], "name": name, "name_key": " ".join(name.split()).casefold(),
               "description": description} for name, description in GROUPS]
    cross = []
    for a, b in PAIRS:
        lo, hi = sorted((ids[a], ids[b]))
        cross.append({"group_a_id": lo, "group_b_id": hi, "note": ""})
    return groups, cross, ids


def ingredient_specs(count: int) -> list[dict]:
    """``count`` ingredients: the demo products, then presentations of SUBSTANCES."""
    specs = []
    for name, category, unit, strength, grps, contra, reorder, max_dose, storage, multi, days in PRODUCTS:
        specs.append({"name": name, "category": category, "unit": unit,
                      "strength": (dec(strength[0]), strength[1]) if strength else None,
                      "groups": grps, "contra": contra, "reorder": dec(reorder),
                      "max_dose": (dec(max_dose[0]), max_dose[1]) if max_dose else None,
                      "storage": storage, "multi_dose": multi, "in_use_days": days})
    names = {s["name"].casefold() for s in specs}
    round_ = 0
    while len(specs) < count:
        for k, (substance, category, sunit, strengths, grps, contra, storage) in enumerate(SUBSTANCES):
            if len(specs) >= count:
                break
            maker = MAKERS[(k + round_) % len(MAKERS)]
            pack = PACKS[(k + round_) % len(PACKS)]
            if strengths is None:
                name = f"{substance} {pack} ({maker})"
                strength = None
            else:
                amount = strengths[(round_ + k) % len(strengths)]
                name = f"{substance} {amount} {sunit}/mL, {pack} ({maker})"
                strength = (dec(amount), sunit)
            if name.casefold() in names:
                continue
            names.add(name.casefold())
            multi = pack == "20 mL vial" and category in ("anesthetic", "diluent")
            specs.append({"name": name, "category": category, "unit": "mL", "strength": strength,
                          "groups": grps, "contra": contra, "reorder": Decimal(10 + 5 * (k % 5)),
                          # a session may take up to 2 mL of the presentation
                          "max_dose": (strength[0] * 2, strength[1]) if strength else None,
                          "storage": storage, "multi_dose": multi, "in_use_days": 28 if multi else None})
        round_ += 1
    return specs[:count]


def ingredient_rows(specs, group_ids, created_at):
    rows, links, contra, gtins = [], [], [], []
    for n, s in enumerate(specs, start=1):
        strength = s["strength"]
        max_dose = s["max_dose"]
        rows.append({"id": n, "name": s["name"], "name_key": " ".join(s["name"].split()).casefold(),
                     "category": s["category"], "unit": s["unit"],
                     "strength_amount": strength[0] if strength else None,
                     "strength_unit": strength[1] if strength else None,
                     "reorder_level": s["reorder"],
                     "max_dose_amount": max_dose[0] if max_dose else None,
                     "max_dose_unit": max_dose[1] if max_dose else None,
                     "storage": s["storage"], "multi_dose": s["multi_dose"],
                     "in_use_days": s["in_use_days"], "active": True, "notes": "",
                     "created_at": created_at, "updated_at": created_at})
        links += [{"ingredient_id": n, "allergen_group_id": group_ids[g]} for g in s["groups"]]
        contra += [{"ingredient_id": n, "condition": c} for c in s["contra"]]
        gtins.append({"gtin": gtin_for(n), "ingredient_id": n})
    return rows, links, contra, gtins


def component_rows(rng, specs, version_id, ingredient_ids, start_id):
    """One version's components: amounts per dose within the ingredient's maximum dose."""
    rows = []
    for position, ing_id in enumerate(ingredient_ids):
        s = specs[ing_id - 1]
        ml = rng.choice(PER_DOSE_ML)
        if s["strength"] is not None:
            amount, unit = (s["strength"][0] * ml).normalize(), s["strength"][1]
        else:
            amount, unit = ml, "mL"
        rows.append({"id": start_id + position, "version_id": version_id, "ingredient_id": ing_id,
                     "position": position, "amount": amount, "unit": unit,
                     "stock_quantity": ml, "stock_unit": "mL"})
    return rows


def cocktails(rng, specs, count, start, end, authors, approvers):
    """Cocktails, versions and components, and each cocktail's periods of use.

    Fates (by index): a tenth drafts, a tenth retired during the year, a fifth with a
    version 2 approved during the year (version 1 superseded), a tenth with a pending
    draft version 2; the rest active on version 1 all year. Returns the rows and
    ``periods``: (cocktail id, version id, storage, from, until) when batches may use it.
    """
    cocktail_rows, version_rows, comp_rows, periods, events = [], [], [], [], []
    drug_ids = [n for n, s in enumerate(specs, start=1) if s["category"] != "diluent"]
    diluents = [n for n, s in enumerate(specs, start=1) if s["category"] == "diluent"]
    names = set()
    version_id = comp_id = 0
    before = start - timedelta(days=60)
    for c in range(1, count + 1):
        area = AREAS[c % len(AREAS)]
        theme = THEMES[area][(c // len(AREAS)) % len(THEMES[area])]
        name = f"{theme} protocol {c:03d}"
        names.add(name)
        fate = ("draft", "retired", "v2", "v2", "pending")[c % 10] if c % 10 < 5 else "active"
        k = rng.randint(5, 9)
        chosen = rng.sample(drug_ids, min(k, len(drug_ids))) + ([rng.choice(diluents)] if diluents else [])
        storage = "fridge" if any(specs[i - 1]["storage"] == "fridge" for i in chosen) else "room"
        author, approver = authors[c % len(authors)], approvers[c % len(approvers)]
        created = before + timedelta(days=rng.randint(0, 20), hours=rng.randint(8, 17))
        approved = created + timedelta(days=rng.randint(1, 5))
        version_id += 1
        v1 = version_id
        statuses = {"draft": "draft", "retired": "retired", "v2": "superseded"}.get(fate, "active")
        base = {"cocktail_id": c, "area": area, "indication": theme, "storage": storage,
                "notes": "", "created_by_id": author}
        version_rows.append(dict(base, id=v1, number=1, status=statuses, created_at=created,
                                 approved_at=None if fate == "draft" else approved,
                                 approved_by_id=None if fate == "draft" else approver))
        comps = component_rows(rng, specs, v1, chosen, comp_id + 1)
        comp_id += len(comps)
        comp_rows += comps
        events.append((created, author, "cocktail.create", c, f"Created cocktail {name} (draft v1)"))
        active_version = None if fate == "draft" else v1
        status = {"draft": "draft", "retired": "retired"}.get(fate, "active")
        if fate != "draft":
            events.append((approved, approver, "cocktail.approve", c, f"Approved {name} v1"))
        if fate in ("v2", "pending"):
            changed = start + timedelta(days=rng.randint(60, 300), hours=rng.randint(8, 17))
            version_id += 1
            approved2 = changed + timedelta(days=2)
            version_rows.append(dict(base, id=version_id, number=2,
                                     status="active" if fate == "v2" else "draft",
                                     created_at=changed,
                                     approved_at=approved2 if fate == "v2" else None,
                                     approved_by_id=approver if fate == "v2" else None))
            comps = component_rows(rng, specs, version_id, chosen, comp_id + 1)
            comp_id += len(comps)
            comp_rows += comps
            events.append((changed, author, "cocktail.update", c, f"Edited {name}: draft v2"))
            if fate == "v2":
                events.append((approved2, approver, "cocktail.approve", c, f"Approved {name} v2"))
                periods.append((c, v1, storage, start, approved2))
                periods.append((c, version_id, storage, approved2, end))
                active_version = version_id
            else:
                periods.append((c, v1, storage, start, end))
        elif fate == "retired":
            retired = start + timedelta(days=rng.randint(90, 270))
            periods.append((c, v1, storage, start, retired))
            events.append((retired, approver, "cocktail.retire", c, f"Retired {name}"))
        elif fate == "active":
            periods.append((c, v1, storage, start, end))
        cocktail_rows.append({"id": c, "name": name, "name_key": name.casefold(), "status": status,
                              "active_version_id": active_version, "created_at": created,
                              "created_by_id": author})
    return cocktail_rows, version_rows, comp_rows, periods, events
