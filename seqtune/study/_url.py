"""Storage URLs as they may be shown: no part of a password on any stream.

A storage URL reaches messages, tracebacks (``--debug``) and driver errors.
:func:`redact` gives the text a message may show (the password and every query
value that is not a known-harmless connection option replaced by ``***``), and
remembers every string of the URL that could be a secret, so that
:func:`scrub` masks them in whatever else is printed. What could be a secret is
read from the raw text as well as from SQLAlchemy's parse: with a raw ``@``,
``/``, ``?`` or ``#`` in a password, where the password ends cannot be told, so
every reading of it is masked.
"""

from __future__ import annotations

import re
import urllib.parse

import sqlalchemy.exc
from sqlalchemy.engine import URL, make_url

#: query options whose values are shown (connection settings, never secrets)
_SHOWN_QUERY = frozenset({
    "sslmode", "connect_timeout", "application_name", "target_session_attrs",
    "gssencmode", "client_encoding", "keepalives", "keepalives_idle", "timeout",
    "uri", "mode", "cache", "immutable", "nolock", "check_same_thread",
    "isolation_level", "detect_types", "cached_statements"})
#: a shown value is plain text: nothing that could hide another option in it
_PLAIN_VALUE = re.compile(r"[\w.:-]*\Z")
#: every secret seen in a storage URL by this process, masked by :func:`scrub`
_SECRETS: set[str] = set()
#: shorter secrets are not masked inside other text (they would mask ordinary words)
_MIN_SECRET = 3
MALFORMED = "<malformed storage URL>"


def parse(url: str) -> URL | None:
    """SQLAlchemy's parse of ``url``; None if it is not a URL."""
    try:
        return make_url(url)
    except (sqlalchemy.exc.ArgumentError, ValueError, TypeError):
        return None


def _shown_option(key: str, value: str) -> bool:
    return key.lower() in _SHOWN_QUERY and bool(_PLAIN_VALUE.match(value))


def _candidates(url: str, parsed: URL | None) -> set[str]:
    """Every substring of ``url`` that may be (part of) a secret."""
    found: set[str] = set()
    scheme, sep, rest = url.partition("://")
    if not sep:
        rest = url
    if not scheme.startswith("sqlite"):
        for at in (i for i, c in enumerate(rest) if c == "@"):
            user, colon, password = rest[:at].partition(":")
            if colon:  # every place the password could end
                found.add(password)
    for piece in re.split(r"[?&;#]", rest)[1:]:
        key, eq, value = piece.partition("=")
        if eq and not _shown_option(key, value):
            found.add(value)
    if parsed is not None:
        if parsed.password is not None:
            found.add(str(parsed.password))
        for key, value in parsed.query.items():
            for item in (value,) if isinstance(value, str) else value:
                if not _shown_option(key, item):
                    found.add(item)
    elif "@" in rest or "=" in rest:  # not a URL at all: mask all of it
        found.add(url)
    return found


def _remember(url: str, parsed: URL | None) -> None:
    for secret in _candidates(url, parsed):
        for form in (secret, urllib.parse.unquote(secret), urllib.parse.unquote_plus(secret),
                     urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret)):
            if len(form) >= _MIN_SECRET:
                _SECRETS.add(form)


def remember_secrets(url: str) -> None:
    """Have :func:`scrub` mask every possible secret of ``url`` from now on."""
    _remember(url, parse(url))


def redact(url: str) -> str:
    """``url`` as a message may show it: the password and the values of query
    options other than known connection settings as ``***``; where the raw text
    holds two ``@`` (so where the password ends is unclear), only the scheme.
    Each possible secret is also remembered for :func:`scrub`."""
    parsed = parse(url)
    _remember(url, parsed)
    if parsed is None:
        return MALFORMED
    if url.partition("://")[2].count("@") > 1 and parsed.get_backend_name() != "sqlite":
        return f"{parsed.drivername}://***"
    netloc = ""
    if parsed.username is not None or parsed.password is not None:
        netloc = (parsed.username or "") + (":***" if parsed.password is not None else "") + "@"
    host = parsed.host or ""
    netloc += (f"[{host}]" if ":" in host else host) + (
        f":{parsed.port}" if parsed.port is not None else "")
    shown = f"{parsed.drivername}://{netloc}"
    if parsed.database is not None:
        shown += f"/{parsed.database}"
    options = [f"{key}={item if _shown_option(key, item) else '***'}"
               for key, value in parsed.query.items()
               for item in ((value,) if isinstance(value, str) else value)]
    return shown + (f"?{'&'.join(options)}" if options else "")


def scrub(text: str) -> str:
    """``text`` with every storage secret this process has seen replaced by ``***``
    (error messages of drivers and tracebacks may echo a URL or part of it)."""
    for secret in sorted(_SECRETS, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def secret_query_keys(parsed: URL) -> list[str]:
    """The query options of ``parsed`` that look like credentials."""
    return [key for key in parsed.query if re.search(r"pass|secret|token|key|auth", key, re.I)]
