"""Who may open the search (issue 16): every role sees stock, cocktails and batches; the
search applies the right to read patients itself."""

from formulary.auth import permissions as P

ROUTES = {
    "search.index": P.VIEW,
    "api.search": P.VIEW,
}
