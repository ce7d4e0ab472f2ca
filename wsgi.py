"""WSGI entry point: ``gunicorn -w 4 wsgi:app`` and ``flask --app wsgi ...``."""

from formulary import create_app

app = create_app()
