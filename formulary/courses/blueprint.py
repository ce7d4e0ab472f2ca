"""The blueprint of the course pages, shared by ``views`` and ``care_views``."""

from flask import Blueprint

bp = Blueprint("courses", __name__)
