"""Fixtures of the language tests: the catalogs compiled, an app switched to read them."""

from __future__ import annotations

import pytest

from tests.i18n import catalogs


@pytest.fixture(scope="session")
def pseudo_dir(tmp_path_factory):
    catalogs.compile_fr()
    return catalogs.build_pseudo(tmp_path_factory.mktemp("pseudo"))


@pytest.fixture
def i18n_app(app, pseudo_dir):
    """The test app reading the French catalog and the pseudo-locale (``en_001``)."""
    from flask_babel import get_babel

    config = app.extensions["babel"]
    dirs = list(config.translation_directories)
    config.translation_directories[:] = dirs + [str(pseudo_dir)]
    app.config["LANGUAGES"] = ("en", "fr", catalogs.PSEUDO)
    domain = config.instance.domain_instance
    domain.cache.clear()
    yield app
    config.translation_directories[:] = dirs
    domain.cache.clear()
