"""Build one outgoing e-mail (pure: no I/O, no clock unless given one).

Everything that ends up in a header is either validated (addresses: refused when malformed) or
cleaned (subject and display names: control characters become spaces), and the message is built
with ``policy.SMTP``, whose header objects refuse CR/LF themselves: a CR/LF in a subject can
never start a new header or end the header block.
"""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.errors import HeaderParseError, InvalidHeaderDefect
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from urllib.parse import quote

from engine.mail.errors import InvalidAddress

#: Control characters (C0, DEL, C1) and the Unicode line/paragraph separators.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_SPACES = re.compile(r"\s+")
_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
_NAME_ADDR = re.compile(r"^\s*(?P<name>[^<>]*?)\s*<(?P<addr>[^<>]*)>\s*$")
MAX_SUBJECT = 200
MAX_ADDRESS = 254

FOOTER_TEXT = (
    "U ontvangt dit bericht omdat u deelneemt aan Burgernet.\n"
    "Wilt u deze e-mails niet meer ontvangen? Meld u af: {url}"
)


def clean_header_text(value: str, limit: int = MAX_SUBJECT) -> str:
    """Text safe for a header: control characters become spaces, runs of space collapse."""
    flat = _SPACES.sub(" ", _CONTROL.sub(" ", value)).strip()
    return flat[:limit].rstrip()


def parse_address(value: str, display_name: str = "") -> Address:
    """A validated address; :class:`InvalidAddress` says what is wrong with a bad one."""
    if _CONTROL.search(value):
        raise InvalidAddress("e-mail address contains control characters (CR/LF?)")
    spec = value.strip()
    if not spec or len(spec) > MAX_ADDRESS:
        raise InvalidAddress("e-mail address is empty or longer than 254 characters")
    local, at, domain = spec.rpartition("@")
    if not at or not local or not domain or "@" in local:
        raise InvalidAddress(f"e-mail address needs one local part, one @, a domain: {mask(spec)}")
    if not local.isascii():
        raise InvalidAddress(f"e-mail address with a non-ASCII local part: {mask(spec)}")
    spec = f"{local}@{_ascii_domain(domain, spec)}"
    try:
        addr = Address(display_name=clean_header_text(display_name, 100), addr_spec=spec)
    except (InvalidHeaderDefect, HeaderParseError, ValueError, IndexError) as exc:
        raise InvalidAddress(f"malformed e-mail address {mask(spec)}: {exc}") from exc
    if addr.addr_spec != spec:
        # The parser quietly dropped or rewrote something (quotes, comments): refuse instead.
        raise InvalidAddress(f"e-mail address is not in plain form: {mask(spec)}")
    return addr


def _ascii_domain(domain: str, spec: str) -> str:
    try:
        ascii_domain = domain.encode("idna").decode("ascii").lower()
    except UnicodeError as exc:
        raise InvalidAddress(f"e-mail domain is not a valid host name: {mask(spec)}") from exc
    labels = ascii_domain.split(".")
    if len(labels) < 2 or not all(_LABEL.fullmatch(label) for label in labels):
        raise InvalidAddress(f"e-mail domain is not a valid host name: {mask(spec)}")
    return ascii_domain


def parse_mailbox(value: str) -> Address:
    """Parse ``Name <addr>`` or a bare address (e.g. the configured sender)."""
    m = _NAME_ADDR.match(value)
    if m:
        return parse_address(m.group("addr"), m.group("name").strip().strip('"'))
    return parse_address(value)


def mask(address: str) -> str:
    """An address fit for a log line: ``jan.jansen@example.nl`` -> ``j***n@example.nl``."""
    local, at, domain = address.rpartition("@")
    if not at:
        return "***"
    hidden = local[:1] + "***" + (local[-1:] if len(local) > 2 else "")
    return f"{hidden}@{domain}"


def message_id(email_id: int, address: str, domain: str) -> str:
    """A Message-ID that names our row, so a bounce (DSN) quoting it finds the row again.

    The digest ties it to the address, so a guessed ID does not mark someone else's mail bounced.
    """
    return f"<bnet.{email_id}.{_digest(email_id, address)}@{domain}>"


_OUR_ID = re.compile(r"\s*<?bnet\.(\d{1,18})\.([0-9a-f]{12})@[^<>\s]+>?\s*")


def email_id_from_message_id(value: str) -> int | None:
    """The row ID in one of our Message-IDs, or None when it is not one of ours."""
    m = _OUR_ID.fullmatch(value)
    return int(m.group(1)) if m else None


def digest_matches(value: str, email_id: int, address: str) -> bool:
    """True when ``value`` is the Message-ID we gave row ``email_id`` sent to ``address``."""
    m = _OUR_ID.fullmatch(value)
    if m is None:
        return False
    return int(m.group(1)) == email_id and m.group(2) == _digest(email_id, address)


def _digest(email_id: int, address: str) -> str:
    return hashlib.sha256(f"{email_id}:{address.lower()}".encode()).hexdigest()[:12]


def unsubscribe_url(base_url: str, token: str) -> str:
    """The one-click unsubscribe URL; the token is percent-encoded whatever it contains."""
    sep = "&" if "?" in base_url else "?"
    return f"{base_url}{sep}token={quote(token, safe='')}"


def html_fragment(text: str) -> str:
    """Plain text as escaped HTML paragraphs (blank line = new paragraph, newline = <br>)."""
    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    return "\n".join(
        "<p>" + "<br>\n".join(html.escape(line) for line in p.splitlines()) + "</p>"
        for p in paragraphs
    )


@dataclass(frozen=True)
class Envelope:
    """Who sends to whom, and under which Message-ID: fixed per row."""

    sender: Address
    recipient: Address
    message_id: str


def compose(
    envelope: Envelope,
    *,
    subject: str,
    body_text: str,
    unsubscribe: str,
    body_html_fragment: str = "",
    date: datetime | None = None,
) -> EmailMessage:
    """The message: plain text plus an HTML alternative, with one-click List-Unsubscribe.

    ``body_html_fragment`` is trusted markup made by :func:`html_fragment` (or equally careful
    code); when empty the HTML part is made from ``body_text``, escaped.
    """
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = envelope.sender
    msg["To"] = envelope.recipient
    msg["Subject"] = clean_header_text(subject) or "Burgernet"
    msg["Date"] = format_datetime(date or datetime.now(UTC))
    msg["Message-ID"] = envelope.message_id
    msg["List-Unsubscribe"] = f"<{unsubscribe}>"
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg["Auto-Submitted"] = "auto-generated"
    footer = FOOTER_TEXT.format(url=unsubscribe)
    # Quoted-printable keeps the message 7-bit, so relays without 8BITMIME take it unchanged.
    msg.set_content(f"{body_text.rstrip()}\n\n-- \n{footer}\n", cte="quoted-printable")
    fragment = body_html_fragment or html_fragment(body_text)
    document = _html_document(str(msg["Subject"]), fragment, unsubscribe)
    msg.add_alternative(document, subtype="html", cte="quoted-printable")
    return msg


def _html_document(subject: str, fragment: str, unsubscribe: str) -> str:
    url = html.escape(unsubscribe, quote=True)
    return (
        '<!DOCTYPE html>\n<html lang="nl">\n<head><meta charset="utf-8">'
        f"<title>{html.escape(subject)}</title></head>\n<body>\n{fragment}\n"
        '<hr><p style="font-size:small;color:#555">U ontvangt dit bericht omdat u deelneemt '
        "aan Burgernet. Wilt u deze e-mails niet meer ontvangen? "
        f'<a href="{url}">Afmelden</a></p>\n</body>\n</html>\n'
    )
