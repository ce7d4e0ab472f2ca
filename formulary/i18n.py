"""Languages (SPEC §13): the locale of a request, the catalogs, and the locale's forms of
dates, numbers and money.

- The locale: the user's choice in their profile (``User.locale``), else the browser's
  ``Accept-Language`` among ``LANGUAGES``, else ``DEFAULT_LOCALE``. The time zone is always
  the clinic's (``CLINIC_TIMEZONE``).
- Text: ``_`` (now) and ``_l`` (lazy, for module-level labels and domain messages, read in
  the locale of whoever reads them). Domain refusals keep their English text and code;
  :func:`tr` translates a message at the edge that shows it (page, flash, API envelope).
- Forms by locale: English keeps the forms the clinic has always printed (ISO dates,
  ``2.5``); French reads ``31/01/2027`` and ``2,5`` with a thin space between thousands.
  :func:`parse_decimal_text` and :func:`parse_date_text` read what a person typed in the
  locale's form and refuse what could be read two ways.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache

from babel import Locale
from babel.numbers import format_currency, format_decimal
from flask import current_app, g, has_request_context, request
from flask_babel import Babel, get_locale, gettext, lazy_gettext, lazy_pgettext, ngettext
from flask_babel.speaklater import LazyString

from formulary.domain.messages import Code, LowerFirst, Message, Quoted
from formulary.domain.units import format_quantity

_ = gettext
_l = lazy_gettext
#: A word whose translation depends on the noun it goes with (``_lp("allergy", "active")``).
_lp = lazy_pgettext
__all__ = ["_", "_l", "ngettext", "tr", "locale_code", "install", "parse_decimal_text",
           "parse_date_text", "format_date_l", "format_datetime_l", "format_qty_l", "format_money_l",
           "language_choices", "LANGUAGE_NAMES"]

#: The languages a person may choose (their own names, as a language menu shows them).
LANGUAGE_NAMES = {"en": "English", "fr": "Français"}

#: Date forms per language (what is printed, and what a form accepts besides ISO).
DATE_PATTERNS = {"en": ("yyyy-MM-dd", "yyyy-MM-dd HH:mm"),
                 "fr": ("dd/MM/yyyy", "dd/MM/yyyy HH:mm")}
DATE_HINTS = {"fr": "jj/mm/aaaa"}


def available_locales() -> list[str]:
    return list(current_app.config.get("LANGUAGES", ("en", "fr")))


def _user_locale() -> str | None:
    try:
        from flask_login import current_user

        if current_user and current_user.is_authenticated:
            return getattr(current_user, "locale", None) or None
    except Exception:  # noqa: BLE001 - the database may be what failed; the browser decides
        return None
    return None


def select_locale() -> str:
    allowed = available_locales()
    if has_request_context():
        forced = g.get("forced_locale")
        if forced:
            return forced
        if not request.path.startswith("/api/"):
            chosen = _user_locale()
            if chosen in allowed:
                return chosen
        best = request.accept_languages.best_match(allowed)
        if best:
            return best
    default = current_app.config.get("DEFAULT_LOCALE", "en")
    return default if default in allowed else "en"


def select_timezone() -> str:
    return current_app.config["CLINIC_TIMEZONE"]


def install(app) -> Babel:
    app.config.setdefault("LANGUAGES", ("en", "fr"))
    babel = Babel(app, locale_selector=select_locale, timezone_selector=select_timezone)

    @app.before_request
    def _fresh_locale():
        # A test may hold one app context over many requests: the locale is the request's.
        from flask_babel import refresh

        refresh()

    return babel


def locale_code() -> str:
    """The request's language code ("en", "fr"), e.g. for ``<html lang>``."""
    loc = get_locale()
    if loc is None:
        return "en"
    return str(loc).replace("_", "-")


def _lang() -> str:
    loc = get_locale()
    return "en" if loc is None else loc.language


def language_choices():
    return [(code, LANGUAGE_NAMES.get(code, code)) for code in available_locales()
            if code in LANGUAGE_NAMES]


def tr(message) -> str:
    """A message in the reader's language: a lazy string is read now; a domain
    :class:`~formulary.domain.messages.Message` is its template looked up in the catalog with
    its values put back in the reader's form (:func:`_local`); another English text from a
    domain refusal is looked up in the catalog. An English reader reads a Message exactly as
    the domain wrote it."""
    if message is None:
        return ""
    if isinstance(message, LazyString):
        return str(message)
    if isinstance(message, Message):
        loc = get_locale()
        if loc is None or str(loc) == "en":
            return str.__str__(message)  # the source language: the text as the domain wrote it
        translated = gettext(message.template)
        if not message.params:
            return translated
        try:
            return translated % {k: _local(v) for k, v in message.params.items()}
        except (KeyError, ValueError, TypeError):  # a translation that does not fit its values
            return str.__str__(message)
    text = str(message)
    return gettext(text) if text else text


def tr_here():
    """``tr`` for the rest of this request, the reader's language read once: ``tr`` asks
    Flask-Babel for it at every call (3 us), and the picker says some 450 findings on a
    page of 500 cocktails (1.9 ms). In English, the source language, a domain
    :class:`~formulary.domain.messages.Message` is its own text, as ``tr`` gives it;
    anything else, and every message in another language, goes to ``tr``. Use it inside
    one request (one language) only."""
    loc = get_locale()
    if loc is not None and str(loc) != "en":
        return tr

    def say(message) -> str:
        if type(message) is Message:
            return str.__str__(message)
        return tr(message)

    return say


#: A typed value quoted in a sentence (:class:`Quoted`): the catalog gives the reader's
#: quotes; untranslated (English), Python's own (``repr``) are kept.
_QUOTE = "'%(text)s'"


def _local(value) -> str:
    """A value put into a translated message: in the reader's language and forms."""
    if isinstance(value, Quoted):
        template = gettext("'%(text)s'")  # _QUOTE, written out for the extractor
        return str.__str__(value) if template == _QUOTE else template % {"text": value.inner}
    if isinstance(value, (Message, LazyString)):
        return tr(value)
    if isinstance(value, LowerFirst):
        text = _local(value.value) if isinstance(value.value, (Message, LazyString)) \
            else tr(str.__str__(value.value))
        return text[:1].lower() + text[1:]
    if isinstance(value, Code):
        from formulary.display import code_word  # display reads this module's _l

        return code_word(str.__str__(value))
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, tuple):
        return " ".join(_local(v) for v in value)
    if isinstance(value, Decimal):
        return format_qty_l(value, places=12) if value.is_finite() else str(value)
    if isinstance(value, datetime):
        return format_datetime_l(value) if value.tzinfo is not None else value.isoformat()
    if isinstance(value, date):
        return format_date_l(value)
    return str(value)


def _message_key(value):
    """What ``tr(value)`` is made from, as a hashable key (in one request: the locale is
    fixed): a message's template and its values' keys, each value with its type (a
    ``Code`` is translated, the same text as a ``str`` is not); ``None`` for a value of
    any other kind (not remembered)."""
    kind = type(value)
    if kind is Message:
        keys = []
        for name, param in sorted(value.params.items()):
            key = _message_key(param)
            if key is None:
                return None
            keys.append((name, key))
        return (kind, value.template, tuple(keys))
    if kind is LowerFirst:
        key = _message_key(value.value)
        return None if key is None else (kind, key)
    if kind is tuple:
        keys = tuple(_message_key(v) for v in value)
        return None if None in keys else (kind, keys)
    if kind in (str, Code, int, bool) or value is None:
        return (kind, value)
    return None


def tr_once():
    """``tr`` for one request that translates each distinct message once (a list of 180
    batches says a handful of reasons). Use it inside one request only: the key holds no
    locale."""
    said: dict = {}
    here = tr_here()

    def say(message) -> str:
        key = _message_key(message)
        if key is None:
            return here(message)
        text = said.get(key)
        if text is None:
            text = said[key] = here(message)
        return text

    return say


def tr_fields(fields: dict) -> dict:
    return {k: [tr(m) for m in v] for k, v in (fields or {}).items()}


# ------------------------------------------------------------------------ formats

def _babel_locale() -> Locale:
    loc = get_locale()
    return loc if loc is not None else Locale("en")


# A list writes a date and a few quantities on every row: Babel, asked to format with a
# pattern given as text, parses the pattern and looks the locale's symbols up again at each
# call (~100-300 us each). The parts that depend only on the locale and the pattern are
# worked out once per (locale, pattern), and each value is then written by plain string
# operations; tests/i18n/test_formats.py holds the output to Babel's own for both
# languages, over many values.

#: The date fields written as numbers: Babel writes them in ASCII digits, zero-padded to
#: the field's width, in every locale (babel.dates.DateTimeFormat.format).
_NUMERIC_DATE_FIELDS = {"yyyy": lambda v: f"{v.year:04d}", "MM": lambda v: f"{v.month:02d}",
                        "dd": lambda v: f"{v.day:02d}", "HH": lambda v: f"{v.hour:02d}",
                        "mm": lambda v: f"{v.minute:02d}"}
_DATE_TOKEN = re.compile(r"yyyy|MM|dd|HH|mm|[A-Za-z']")


@lru_cache(maxsize=32)
def _date_writer(locale: Locale, pattern: str):
    """The pattern as a list of writers (a numeric field's, or a literal's), or ``None``
    when it holds anything else (a month's name, a quote): Babel then writes it."""
    parts = []
    at = 0
    for m in _DATE_TOKEN.finditer(pattern):
        if m.group() not in _NUMERIC_DATE_FIELDS:
            return None
        if m.start() > at:
            literal = pattern[at:m.start()]
            parts.append(lambda _v, text=literal: text)
        parts.append(_NUMERIC_DATE_FIELDS[m.group()])
        at = m.end()
    if at < len(pattern):
        literal = pattern[at:]
        parts.append(lambda _v, text=literal: text)
    return parts


def _format_date_pattern(value, pattern: str, locale: Locale, babel_format) -> str:
    writer = _date_writer(locale, pattern)
    if writer is None:
        return babel_format(value, pattern, locale=locale)
    return "".join(part(value) for part in writer)


def format_date_l(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        from formulary import clock

        value = clock.local(value).date()
    locale = _babel_locale()
    pattern = DATE_PATTERNS.get(locale.language, DATE_PATTERNS["en"])[0]
    from babel.dates import format_date

    return _format_date_pattern(value, pattern, locale, format_date)


def format_datetime_l(value) -> str:
    if value is None:
        return ""
    from formulary import clock
    from babel.dates import format_datetime

    locale = _babel_locale()
    pattern = DATE_PATTERNS.get(locale.language, DATE_PATTERNS["en"])[1]
    local = clock.local(value)
    return _format_date_pattern(local.replace(tzinfo=None), pattern, locale, format_datetime)


def datetime_writer():
    """``format_datetime_l`` for the rows of one long list: the locale, the pattern and
    the clinic's time zone looked up once (each call of ``format_datetime_l`` looks them
    up again). Only within the request that asked for it (its locale)."""
    from formulary import clock

    locale = _babel_locale()
    template = _date_template(DATE_PATTERNS.get(locale.language, DATE_PATTERNS["en"])[1])
    if template is None:
        return format_datetime_l
    fill, tz = template.format, clock.clinic_tz()

    def write(value) -> str:
        return "" if value is None else fill(value.astimezone(tz))

    return write


_DATE_FIELDS_FORMAT = {"yyyy": "{0.year:04d}", "MM": "{0.month:02d}", "dd": "{0.day:02d}",
                       "HH": "{0.hour:02d}", "mm": "{0.minute:02d}"}


@lru_cache(maxsize=32)
def _date_template(pattern: str) -> str | None:
    """A numeric date pattern (``_date_writer``'s) as one ``str.format`` template, the
    same digits as its writers (``"yyyy-MM-dd"`` -> ``"{0.year:04d}-{0.month:02d}-..."``),
    for a long list's many dates; ``None`` when the pattern holds anything else."""
    out, at = [], 0
    for m in _DATE_TOKEN.finditer(pattern):
        if m.group() not in _DATE_FIELDS_FORMAT:
            return None
        out.append(pattern[at:m.start()].replace("{", "{{").replace("}", "}}"))
        out.append(_DATE_FIELDS_FORMAT[m.group()])
        at = m.end()
    out.append(pattern[at:].replace("{", "{{").replace("}", "}}"))
    return "".join(out)


def qty_writer():
    """``format_qty_l`` (4 places) for the rows of one long list: the locale looked up
    once. Only within the request that asked for it."""
    if _babel_locale().language == "en":
        return lambda value: "" if value is None else format_quantity(value, 4)
    return format_qty_l


@lru_cache(maxsize=16)
def _number_symbols(locale: Locale) -> tuple[str, str, str]:
    """The locale's decimal sign, group separator and minus sign (Latin digits)."""
    symbols = locale.number_symbols["latn"]
    return symbols["decimal"], symbols["group"], symbols["minusSign"]


def format_qty_l(value, places: int = 4) -> str:
    """A quantity in the locale's form: ``2.5`` in English (as always: no grouping),
    ``2,5`` and ``1 234,5`` in French. Rounding is :func:`format_quantity`'s; the rest is
    Babel's ``format_decimal`` with the pattern ``#,##0.0…`` (as many places as the
    rounded quantity has), written from the locale's symbols."""
    if value is None:
        return ""
    text = format_quantity(value, places)
    locale = _babel_locale()
    if locale.language == "en":
        return text
    decimal_sign, group, minus = _number_symbols(locale)
    negative = text.startswith("-")
    whole, _, fraction = text.lstrip("-").partition(".")
    if len(whole) > 3:
        head = len(whole) % 3 or 3
        whole = group.join([whole[:head]] + [whole[i:i + 3] for i in range(head, len(whole), 3)])
    if negative and (whole.strip("0" + group) or fraction.strip("0")):
        whole = minus + whole
    return whole + (decimal_sign + fraction if fraction else "")


def format_money_l(value) -> str:
    if value is None:
        return ""
    currency = current_app.config.get("MONEY_CURRENCY", "EUR")
    # a unit cost may have 4 decimals: shown whole, never rounded to cents
    return format_currency(Decimal(value), currency, locale=_babel_locale(),
                           decimal_quantization=False)


# ------------------------------------------------------------------------ reading input

_EN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")
_GROUP_CHARS = " \u00a0\u202f"


def _symbols() -> tuple[str, str]:
    loc = _babel_locale()
    return loc.number_symbols.get("latn", loc.number_symbols).get("decimal", "."), \
        loc.number_symbols.get("latn", loc.number_symbols).get("group", ",")


def parse_decimal_text(text: str | None) -> tuple[str | None, str | None]:
    """What a person typed as a number, in the locale's form, as the API's text (a point,
    no grouping): ``("12.5", None)``; or ``(None, message)`` when it cannot be read one way
    only. Empty stays empty (``("", None)``). The API's own checks (``parse_quantity``)
    still judge the value; this only reads the form.

    English: ``2.5``; a comma is refused (``1,234.5`` may be read two ways by a French eye).
    French: ``2,5``; thin, no-break or plain spaces between thousands (``1 234,5``); a point
    is refused when a comma is there too (``1.234,5``), and a lone point is refused too: in
    French ``1.234`` is a thousand, in English one and a bit.
    """
    if text is None:
        return None, None
    raw = text.strip()
    if not raw:
        return "", None
    lang = _lang()
    if lang == "en":
        if "," in raw:
            return None, _("Use a point for decimals and no thousands separator (2.5, not 2,5).")
        return raw, None
    decimal_sign = ","
    body = raw
    for ch in _GROUP_CHARS:
        body = body.replace(ch, "")
    if "." in body:
        if "," in body:
            return None, _("Mixed separators: write the number with a decimal comma "
                           "and no point (1234,5).")
        return None, _("Use a comma for decimals (2,5), not a point.")
    if body.count(decimal_sign) > 1:
        return None, _("A number has one decimal comma at most.")
    # spaces only between groups of three digits
    grouped = raw.split(",")[0].strip()
    if any(ch in grouped for ch in _GROUP_CHARS):
        parts = re.split(f"[{_GROUP_CHARS}]", grouped.lstrip("+-"))
        if not parts[0] or len(parts[0]) > 3 or any(len(p) != 3 for p in parts[1:]):
            return None, _("Spaces may only separate thousands (1 234,5).")
    return body.replace(decimal_sign, "."), None


_FR_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_date_text(text: str | None) -> tuple[str | None, str | None]:
    """What a person typed as a date, as ISO text (``("2027-01-31", None)``), or
    ``(None, message)``. ISO is read in every language; French also reads ``31/01/2027``.
    Two-digit years and English ``01/31/2027`` are refused, never guessed."""
    if text is None:
        return None, None
    raw = text.strip()
    if not raw:
        return "", None
    if _ISO_DATE.fullmatch(raw):
        return raw, None
    if _lang() == "fr":
        m = _FR_DATE.fullmatch(raw)
        if m:
            day, month, year = (int(x) for x in m.groups())
            try:
                return date(year, month, day).isoformat(), None
            except ValueError:
                return None, _("%(text)s is not a date that exists.", text=raw)
        return None, _("Give the date as dd/mm/yyyy (31/01/2027).")
    return None, _("Give the date as YYYY-MM-DD.")


def date_hint() -> str:
    return DATE_HINTS.get(_lang(), "YYYY-MM-DD")
