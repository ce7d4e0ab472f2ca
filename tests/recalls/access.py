"""Who may open each recall route: endpoint -> permission (SPEC §2, §12).

The list names no patient: every role that views stock and batches reads it (the manager
watches recalls too). The worklist shows patients, so it follows the patients' row of
SPEC §2 (admin, pharmacist, practitioner), and those who see it work it. Its export is
patient data and an export: the roles holding both (admin, pharmacist).
"""

from formulary.auth import permissions as P

ROUTES = {
    "recalls.index": P.VIEW,
    "recalls.worklist": P.RECALLS,
    "recalls.set_patient_status": P.RECALLS,
    "recalls.worklist_export": P.RECALLS_EXPORT,
    "api.list_recalls": P.RECALLS,
    "api.get_recall": P.RECALLS,
    "api.set_recall_patient": P.RECALLS,
    "api.recall_worklist_xlsx": P.RECALLS_EXPORT,
}
