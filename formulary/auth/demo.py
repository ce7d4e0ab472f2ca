"""Demo users: one per role, all with the demo password."""

from formulary.auth import services

PASSWORD = "formulary-admin"
USERS = (
    ("admin", "admin", "Alex Admin"),
    ("pharmacist", "pharmacist", "Paula Pharmacist"),
    ("pharmacist2", "pharmacist", "Pierre Pharmacist"),
    ("practitioner", "practitioner", "Dr Priya Practitioner"),
    ("manager", "manager", "Morgan Manager"),
)


def load(session, ctx: dict) -> None:
    users = {}
    for username, role, name in USERS:
        users[username] = services.create_user(session, "demo-data", username=username,
                                                password=PASSWORD, role=role, full_name=name)
    ctx["users"] = users
