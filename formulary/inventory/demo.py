"""Demo data: the stock room of a mesotherapy clinic, received through the services so
that the ledger and the audit log are what real use would have left.

``load(session, ctx)`` runs as the demo pharmacist (``ctx["users"]["pharmacist"]``) and
sets ``ctx["groups"] = {name: AllergenGroup}`` and ``ctx["ingredients"] = {name: Ingredient}``.
GTINs are made up (prefix 0376999, not a real company) with valid check digits.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from formulary import clock
from formulary.db import utcnow
from formulary.inventory import allergens, ingredients, lots

# name, description
GROUPS = (
    ("ester local anesthetic", "procaine, tetracaine, benzocaine: metabolised to PABA"),
    ("amide local anesthetic", "lidocaine, mepivacaine, articaine"),
    ("PABA", "para-aminobenzoic acid"),
    ("parabens", "methylparaben, propylparaben: preservatives of multi-dose vials"),
    ("sulfites", "sodium metabisulfite and bisulfite: antioxidants"),
    ("benzyl alcohol", "preservative of bacteriostatic saline and some solutions"),
    ("cobalt", "metal allergy (patch test)"),
    ("cobalamins", "cyanocobalamin, hydroxocobalamin: carry cobalt"),
    ("soy", "soybean and soy lecithin"),
    ("phosphatidylcholine", "soy-derived phospholipid"),
    ("deoxycholate", "bile salt, solubiliser"),
    ("peanut", ""),
    ("legumes", "lupin, pea, lentil"),
    ("ovine proteins", "sheep-derived proteins"),
    ("bovine proteins", "cattle-derived proteins"),
    ("hyaluronidase", "the enzyme, any source"),
    ("5-alpha-reductase inhibitors", "finasteride, dutasteride"),
    ("minoxidil", ""),
    ("thiamine", "vitamin B1"),
    ("ascorbic acid", "vitamin C"),
)
PAIRS = (
    ("ester local anesthetic", "PABA"), ("ester local anesthetic", "parabens"),
    ("PABA", "parabens"), ("cobalt", "cobalamins"), ("soy", "peanut"), ("soy", "legumes"),
    ("soy", "phosphatidylcholine"), ("ovine proteins", "bovine proteins"),
)

ML = "mL"
# name, category, unit, strength (amount, unit) | None, groups, contraindications,
# reorder level, max dose (amount, unit) | None, storage, multi-dose, in-use days
PRODUCTS = (
    ("Biotin 5 mg/mL", "vitamin", ML, ("5", "mg"), (), (), "20", ("20", "mg"), "room", False, None),
    ("Dexpanthenol 250 mg/mL", "vitamin", ML, ("250", "mg"), (), (), "20", ("500", "mg"), "room", False, None),
    ("Vitamin B complex", "vitamin", ML, None, ("thiamine", "cobalamins"), (), "10", ("4", "mL"), "fridge", False, None),
    ("Ascorbic acid 100 mg/mL", "vitamin", ML, ("100", "mg"), ("ascorbic acid",), (), "20", ("500", "mg"), "fridge", False, None),
    ("Pyridoxine 50 mg/mL", "vitamin", ML, ("50", "mg"), (), (), "10", ("100", "mg"), "room", False, None),
    ("Thiamine 100 mg/mL", "vitamin", ML, ("100", "mg"), ("thiamine",), (), "10", ("100", "mg"), "room", False, None),
    ("Nicotinamide 100 mg/mL", "vitamin", ML, ("100", "mg"), (), (), "10", ("200", "mg"), "room", False, None),
    ("Cyanocobalamin 1 mg/mL", "vitamin", ML, ("1", "mg"), ("cobalamins",), (), "10", ("1", "mg"), "room", False, None),
    ("Hydroxocobalamin 5 mg/mL", "vitamin", ML, ("5", "mg"), ("cobalamins",), (), "5", ("5", "mg"), "room", False, None),
    ("Zinc sulfate 1 mg/mL", "mineral", ML, ("1", "mg"), (), (), "10", ("5", "mg"), "room", False, None),
    ("Organic silicon 0.5% (monomethylsilanetriol)", "mineral", ML, ("5", "mg"), (), (), "25", ("50", "mg"), "room", False, None),
    ("Magnesium sulfate 150 mg/mL", "mineral", ML, ("150", "mg"), (), (), "10", ("300", "mg"), "room", False, None),
    ("L-cysteine 50 mg/mL", "amino_acid", ML, ("50", "mg"), (), (), "10", ("100", "mg"), "room", False, None),
    ("L-carnitine 200 mg/mL", "amino_acid", ML, ("200", "mg"), (), (), "20", ("1000", "mg"), "room", False, None),
    ("L-arginine 100 mg/mL", "amino_acid", ML, ("100", "mg"), (), (), "10", ("300", "mg"), "room", False, None),
    ("Glutathione 150 mg/mL", "peptide", ML, ("150", "mg"), (), (), "10", ("600", "mg"), "fridge", False, None),
    ("Copper tripeptide GHK-Cu 2 mg/mL", "peptide", ML, ("2", "mg"), (), (), "5", ("4", "mg"), "fridge", False, None),
    ("Hyaluronic acid 1% non-crosslinked", "hyaluronic_acid", ML, ("10", "mg"), (), (), "20", ("40", "mg"), "room", False, None),
    ("Dutasteride 0.05%", "drug", ML, ("0.5", "mg"), ("5-alpha-reductase inhibitors",),
     ("pregnant", "breastfeeding"), "5", ("0.5", "mg"), "room", False, None),
    ("Minoxidil 2%", "drug", ML, ("20", "mg"), ("minoxidil",), ("pregnant", "breastfeeding"),
     "10", ("20", "mg"), "room", False, None),
    ("Finasteride 0.05%", "drug", ML, ("0.5", "mg"), ("5-alpha-reductase inhibitors",),
     ("pregnant", "breastfeeding"), "5", ("1", "mg"), "room", False, None),
    ("Tranexamic acid 100 mg/mL", "drug", ML, ("100", "mg"), (), (), "10", ("200", "mg"), "room", False, None),
    ("Lidocaine 2% preservative-free", "anesthetic", ML, ("20", "mg"), ("amide local anesthetic",), (),
     "20", ("100", "mg"), "room", False, None),
    ("Lidocaine 2% multi-dose with methylparaben", "anesthetic", ML, ("20", "mg"),
     ("amide local anesthetic", "parabens"), (), "20", ("100", "mg"), "room", True, 28),
    ("Procaine 2%", "anesthetic", ML, ("20", "mg"), ("ester local anesthetic",), (), "20",
     ("100", "mg"), "room", False, None),
    ("Phosphatidylcholine 50 mg/mL + deoxycholate 47.5 mg/mL with benzyl alcohol", "drug", ML,
     ("50", "mg"), ("soy", "phosphatidylcholine", "deoxycholate", "benzyl alcohol"),
     ("pregnant", "breastfeeding"), "25", ("1000", "mg"), "room", False, None),
    ("Deoxycholic acid 10 mg/mL", "drug", ML, ("10", "mg"), ("deoxycholate",),
     ("pregnant", "breastfeeding"), "10", ("100", "mg"), "room", False, None),
    ("Hyaluronidase (ovine) 200 U/mL", "enzyme", ML, ("200", "U"), ("hyaluronidase", "ovine proteins"),
     (), "5", ("300", "U"), "fridge", False, None),
    ("Artichoke leaf extract 50 mg/mL", "plant_extract", ML, ("50", "mg"), (), (), "10", ("200", "mg"), "room", False, None),
    ("Ginkgo biloba extract 3.5 mg/mL", "plant_extract", ML, ("3.5", "mg"), (), (), "10", ("17.5", "mg"), "room", False, None),
    ("Centella asiatica extract 20 mg/mL", "plant_extract", ML, ("20", "mg"), (), (), "10", ("80", "mg"), "room", False, None),
    ("Caffeine 25 mg/mL", "other", ML, ("25", "mg"), (), (), "10", ("250", "mg"), "room", False, None),
    ("DMAE 3%", "other", ML, ("30", "mg"), (), (), "10", ("150", "mg"), "room", False, None),
    ("Alpha-lipoic acid 25 mg/mL", "other", ML, ("25", "mg"), (), (), "10", ("150", "mg"), "room", False, None),
    ("Sodium chloride 0.9%", "diluent", ML, None, (), (), "100", None, "room", False, None),
    ("Bacteriostatic sodium chloride 0.9% with benzyl alcohol", "diluent", ML, None,
     ("benzyl alcohol",), (), "60", None, "room", True, 28),
    ("Water for injection", "diluent", ML, None, (), (), "50", None, "room", False, None),
)

SUPPLIERS = ("Mesopharm Distribution", "Laboratoires Esthederm Pro", "Pharma-Med Supply")


def gtin_for(n: int) -> str:
    body = f"0376999{n:06d}"
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return body + str((10 - total % 10) % 10)


def _amount(pair):
    return None if pair is None else {"amount": pair[0], "unit": pair[1]}


def load(session, ctx: dict) -> None:
    actor = ctx["users"]["pharmacist"]
    admin = ctx["users"].get("admin", actor)
    groups = {}
    for name, description in GROUPS:
        groups[name] = allergens.create_group(session, admin, {"name": name, "description": description})
    partners: dict[str, list[str]] = {}
    for a, b in PAIRS:
        partners.setdefault(a, []).append(b)
    for name, others in partners.items():
        current = [g.name for g in allergens.partners(session, groups[name])]
        allergens.update_group(session, admin, groups[name],
                               {"cross_reacts_with": sorted(set(current) | set(others))})
    ctx["groups"] = groups

    made = {}
    for n, (name, category, unit, strength, grps, contra, reorder, max_dose, storage, multi,
            days) in enumerate(PRODUCTS, start=1):
        made[name] = ingredients.create_ingredient(session, actor, {
            "name": name, "category": category, "unit": unit, "strength": _amount(strength),
            "allergen_groups": list(grps), "contraindications": list(contra),
            "reorder_level": reorder, "max_dose_per_session": _amount(max_dose),
            "gtins": [gtin_for(n)], "storage": storage, "multi_dose": multi, "in_use_days": days})
    ctx["ingredients"] = made
    _receive_lots(session, actor, made)


def _receive_lots(session, actor, made: dict) -> None:
    """Two or three lots per product: most expire in 6-24 months, some within 30-90 days,
    a few products are below their reorder level, one lot is quarantined and one lot
    received last year has expired since."""
    now = utcnow()
    today = clock.today()
    ctx_lots = []
    for n, (name, ing) in enumerate(made.items()):
        level = Decimal(ing.reorder_level or 10)
        low = n % 7 == 3  # every seventh product runs low
        plan = [(400 + 37 * n % 300, level * (Decimal("0.3") if low else 2)),
                (180 + 11 * n % 200, level * (Decimal("0.2") if low else Decimal("1.5")))]
        if n % 4 == 0:
            plan.append((30 + (n * 7) % 60, level))  # expiring within 30-90 days
        for k, (days, qty) in enumerate(plan):
            lot = lots.receive_lot(
                session, actor, ingredient=ing, lot_number=f"{ing.name[:3].upper()}{24 + k}{n:02d}{k}",
                expiry_date=today + timedelta(days=days), quantity=qty.quantize(Decimal("1")) or 1,
                unit_cost=Decimal("0.85") + Decimal(n % 9) / 4, supplier=SUPPLIERS[(n + k) % 3],
                now=now - timedelta(days=60 - k * 20))
            ctx_lots.append(lot)
    # Realistic history: waste and a count correction; a quarantine; an expired lot.
    lots.adjust_lot(session, actor, ctx_lots[0], quantity_delta="-2", reason="breakage",
                    note="vial dropped during unpacking")
    lots.adjust_lot(session, actor, ctx_lots[5], quantity_delta="-1", reason="count_correction",
                    note="monthly count")
    hyal = made["Hyaluronidase (ovine) 200 U/mL"]
    quarantined = next(lot for lot in ctx_lots if lot.ingredient_id == hyal.id)
    lots.set_lot_status(session, actor, quarantined, status="quarantined",
                        reason="cold chain: fridge log showed 11 °C overnight; awaiting supplier advice")
    saline = made["Sodium chloride 0.9%"]
    lots.receive_lot(session, actor, ingredient=saline, lot_number="NACL2301",
                     expiry_date=today - timedelta(days=20), quantity=50,
                     unit_cost=Decimal("0.05"), supplier=SUPPLIERS[2],
                     now=now - timedelta(days=400))
    ctx_all = ctx_lots
    return ctx_all
