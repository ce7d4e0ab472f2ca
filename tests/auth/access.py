"""Who may open each route of the foundation: endpoint -> permission (None: public).

Every area keeps such a table in ``tests/<area>/access.py``; the role-matrix test walks
every route of the app and fails on a route no table names.
"""

from formulary.auth import permissions as P

ROUTES = {
    "static": None,
    "bootstrap.static": None,
    "main.index": None,
    "main.health": None,
    "main.favicon": None,
    "main.dashboard": P.VIEW,
    "main.baseline": P.VIEW,
    "auth.login": None,
    "auth.logout": None,
    "auth.users": P.ADMIN,
    "auth.user_new": P.ADMIN,
    "auth.user_edit": P.ADMIN,
    "auth.user_reset_password": P.ADMIN,
    "auth.my_tokens": P.VIEW,
    "auth.profile": P.VIEW,
    "auth.token_revoke": P.VIEW,
    "audit.index": P.AUDIT,
    "api.openapi_document": None,
    "api.create_token": None,
    "api.list_tokens": P.VIEW,
    "api.revoke_token": P.VIEW,
    "api.list_users": P.ADMIN,
    "api.create_user": P.ADMIN,
}
