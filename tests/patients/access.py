"""Who may open each route of the patients area: endpoint -> permission (SPEC §2)."""

from formulary.auth import permissions as P

ROUTES = {
    "patients.index": P.PATIENTS,
    "patients.new": P.PATIENTS,
    "patients.edit": P.PATIENTS,
    "patients.record": P.PATIENTS,
    "patients.allergy_add": P.PATIENTS,
    "patients.allergy_update": P.PATIENTS,
    "patients.no_known_allergies": P.PATIENTS,
    "patients.picker": P.SAFETY,
    "api.list_patients": P.PATIENTS,
    "api.create_patient": P.PATIENTS,
    "api.get_patient": P.PATIENTS,
    "api.update_patient": P.PATIENTS,
    "api.add_allergy": P.PATIENTS,
    "api.update_allergy": P.PATIENTS,
    "api.patient_safety": P.SAFETY,
    "api.patient_formulations": P.SAFETY,
}
