"""Patients of a year-scale clinic, with their conditions and allergies, as plain rows.

A mix of allergy assessments (known, none known, not yet assessed) and of allergy records
(active, inactive, refuted; to an allergen group, to an ingredient, or free text).
Returns the ids of the patients a batch may be made for without a safety finding: no
allergy recorded as known and no condition.
"""

from __future__ import annotations

from datetime import date, timedelta

from formulary.domain.safety import CONDITIONS

FIRST = ("Camille", "Sophie", "Thomas", "Nadia", "Julien", "Emma", "Chloé", "Michel", "Inès",
         "Lucas", "Manon", "Hugo", "Léa", "Louis", "Sarah", "Nathan", "Clara", "Antoine",
         "Alice", "Maxime", "Juliette", "Paul", "Zoé", "Hélène", "Karim", "Yasmine", "Olivier",
         "Anaïs", "Romain", "Mathilde", "Elena", "Marco", "Sofia", "David", "Amira", "Ibrahim",
         "Valérie", "Pierre", "Isabelle", "Nicolas", "Laura", "Mehdi", "Charlotte", "Victor",
         "Aurélie", "Samuel", "Eva", "Jeanne", "Théo", "Lina")
LAST = ("Laurent", "Bernard", "Petit", "Haddad", "Roux", "Fournier", "Girard", "Bonnet",
        "Mercier", "Lambert", "Faure", "André", "Martin", "Dubois", "Moreau", "Simon", "Michel",
        "Leroy", "Garcia", "David", "Bertrand", "Morel", "Rousseau", "Vincent", "Muller",
        "Lefèvre", "Legrand", "Garnier", "Chevalier", "François", "Perrin", "Robin", "Clément",
        "Morin", "Nicolas", "Henry", "Roussel", "Mathieu", "Gautier", "Masson", "Marchand",
        "Duval", "Denis", "Dumont", "Marie", "Lemaire", "Noël", "Meyer", "Dufour", "Meunier",
        "Brun", "Blanchard", "Giraud", "Joly", "Rivière", "Lucas", "Brunet", "Gaillard",
        "Barbier", "Arnaud", "Benali", "Nguyen", "Rossi", "Schmidt", "Costa", "Novak")
SUBSTANCES = ("latex", "penicillin", "nickel", "iodine contrast", "chlorhexidine", "aspirin",
              "codeine", "shellfish", "bee venom", "adhesive tape")
REACTIONS = ("urticaria", "contact dermatitis", "lip swelling", "generalised rash",
             "wheezing", "itching at the injection site", "anaphylaxis", "nausea and dizziness")
SEVERITIES = ("mild", "moderate", "severe", "anaphylaxis")


def patients(rng, count, group_ids, ingredient_count, start, end, recorder):
    patient_rows, condition_rows, allergy_rows, screened_safe = [], [], [], []
    span = int((end - start).total_seconds())
    allergy_id = 0
    groups = sorted(group_ids.values())
    for p in range(1, count + 1):
        created = start - timedelta(days=120) + timedelta(seconds=rng.randint(0, span + 120 * 86400 - 1))
        born = date(1945, 1, 1) + timedelta(days=rng.randint(0, 60 * 365))
        roll = rng.random()
        status = "known" if roll < 0.35 else ("none_known" if roll < 0.8 else "unknown")
        conditions = rng.sample(CONDITIONS, 1) if rng.random() < 0.1 else []
        if born > date(2005, 1, 1) or not conditions:
            conditions = conditions if born <= date(2005, 1, 1) else []
        patient_rows.append({
            "id": p, "mrn": f"MRN-{300000 + p}", "first_name": rng.choice(FIRST),
            "last_name": rng.choice(LAST), "date_of_birth": born, "allergy_status": status,
            "notes": "", "created_at": created, "updated_at": created})
        condition_rows += [{"patient_id": p, "condition": c} for c in conditions]
        if status == "known":
            for _ in range(rng.choice((1, 1, 1, 2, 2, 3))):
                allergy_id += 1
                kind = rng.random()
                target = {"ingredient_id": None, "allergen_group_id": None, "substance": None}
                if kind < 0.6:
                    target["allergen_group_id"] = rng.choice(groups)
                elif kind < 0.85:
                    target["ingredient_id"] = rng.randint(1, ingredient_count)
                else:
                    target["substance"] = rng.choice(SUBSTANCES)
                state = rng.random()
                allergy_rows.append(dict(
                    target, id=allergy_id, patient_id=p, severity=rng.choice(SEVERITIES),
                    reaction=rng.choice(REACTIONS),
                    status="active" if state < 0.8 else ("inactive" if state < 0.92 else "refuted"),
                    recorded_by_id=recorder, recorded_at=created, updated_at=created))
        elif status == "none_known" and not conditions:
            screened_safe.append((p, created))
    return patient_rows, condition_rows, allergy_rows, screened_safe
