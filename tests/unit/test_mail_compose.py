"""Composition of outgoing e-mail: parts, headers, escaping, and refusal of unsafe input."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from urllib.parse import parse_qs, urlsplit

import pytest

from engine.mail.compose import (
    Envelope,
    clean_header_text,
    compose,
    digest_matches,
    email_id_from_message_id,
    html_fragment,
    mask,
    message_id,
    parse_address,
    parse_mailbox,
    unsubscribe_url,
)
from engine.mail.errors import InvalidAddress
from engine.mail.unsubscribe import make_token, participant_id_from_token

BASE = "https://burgernet.test/v1/participants/unsubscribe"


def _envelope(to: str = "jan@example.nl", name: str = "Jan") -> Envelope:
    return Envelope(
        parse_mailbox("Burgernet <noreply@burgernet.example>"),
        parse_address(to, name),
        message_id(7, to, "burgernet.example"),
    )


def _roundtrip(msg: EmailMessage) -> EmailMessage:
    parsed = message_from_bytes(msg.as_bytes(), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def _build(**kw: str) -> EmailMessage:
    return _roundtrip(
        compose(
            _envelope(),
            subject=kw.get("subject", "Burgernetactie afgerond"),
            body_text=kw.get("body", "De vermiste man is gevonden.\n\nBedankt voor uw hulp."),
            unsubscribe=unsubscribe_url(BASE, "12.abc"),
            date=datetime(2026, 11, 24, 13, 0, tzinfo=UTC),
        )
    )


def test_message_has_plain_and_html_parts_in_dutch() -> None:
    msg = _build()
    assert msg.get_content_type() == "multipart/alternative"
    plain = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert plain is not None and html is not None
    assert "De vermiste man is gevonden." in plain.get_content()
    assert "Afmelden" in html.get_content() and "Meld u af:" in plain.get_content()
    assert '<html lang="nl">' in html.get_content()


def test_headers_for_one_click_unsubscribe_and_identity() -> None:
    msg = _build()
    # Long headers are folded; unfolding keeps the fold's leading space, readers strip it.
    assert msg["List-Unsubscribe"].strip() == f"<{BASE}?token=12.abc>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg["Message-ID"] == message_id(7, "jan@example.nl", "burgernet.example")
    assert msg["Date"] == "Tue, 24 Nov 2026 13:00:00 +0000"
    assert msg["To"] == "Jan <jan@example.nl>"


def test_html_part_escapes_text() -> None:
    html = _build(body='<script>alert("x")</script> & "quotes"').get_body(("html",))
    assert html is not None
    content = html.get_content()
    assert "<script>" not in content
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp;" in content


def test_crlf_in_subject_cannot_add_a_header() -> None:
    msg = _build(subject="Uitslag\r\nBcc: evil@attacker.example\r\n\r\nnep-inhoud")
    assert msg["Bcc"] is None
    assert msg["Subject"] == "Uitslag Bcc: evil@attacker.example nep-inhoud"
    assert len(msg.get_all("Subject") or []) == 1


def test_unicode_subject_is_encoded_and_survives() -> None:
    msg = _build(subject="Vermiste persoon in Zoetermeer – één update")
    assert msg["Subject"] == "Vermiste persoon in Zoetermeer – één update"


def test_display_name_with_newline_is_flattened() -> None:
    addr = parse_address("jan@example.nl", "Jan\r\nBcc: x@y.nl")
    assert addr.display_name == "Jan Bcc: x@y.nl"
    msg = _roundtrip(
        compose(
            Envelope(_envelope().sender, addr, "<x@y>"),
            subject="s",
            body_text="b",
            unsubscribe=BASE,
        )
    )
    assert msg["Bcc"] is None


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "jan",
        "jan@",
        "@example.nl",
        "jan@@example.nl",
        "jan de vries@example.nl",
        "jan@example.nl\r\nBcc: evil@attacker.example",
        "jan@example.nl\n",
        "jan@localhost",
        "jan@-bad-.nl",
        "jan@exa mple.nl",
        '"jan"@example.nl',
        "jan@example.nl>",
        "jän@example.nl",
        "x" * 250 + "@example.nl",
    ],
)
def test_malformed_addresses_are_refused_with_a_clear_error(bad: str) -> None:
    with pytest.raises(InvalidAddress) as exc:
        parse_address(bad)
    assert "e-mail" in str(exc.value)
    assert exc.value.code == "invalid_email_address"


def test_international_domain_is_encoded() -> None:
    assert parse_address("info@bücher.nl").addr_spec == "info@xn--bcher-kva.nl"


def test_sender_setting_parses_name_and_address() -> None:
    box = parse_mailbox("Burgernet Oost <noreply@burgernet.example>")
    assert (box.display_name, box.addr_spec) == ("Burgernet Oost", "noreply@burgernet.example")


def test_clean_header_text_strips_controls_and_limits_length() -> None:
    assert clean_header_text("a\tb\x00c\u2028d") == "a b c d"
    assert len(clean_header_text("x" * 500)) == 200


def test_message_id_names_the_row_and_checks_the_address() -> None:
    mid = message_id(42, "Jan@Example.nl", "burgernet.example")
    assert email_id_from_message_id(mid) == 42
    assert digest_matches(mid, 42, "jan@example.nl")
    assert not digest_matches(mid, 42, "piet@example.nl")
    assert not digest_matches(mid.replace("bnet.42", "bnet.43"), 43, "jan@example.nl")
    assert email_id_from_message_id("<random@elsewhere>") is None


def test_unsubscribe_url_encodes_the_token() -> None:
    url = unsubscribe_url(BASE, "a b&c=d")
    assert parse_qs(urlsplit(url).query) == {"token": ["a b&c=d"]}
    assert unsubscribe_url(BASE + "?lang=nl", "t").endswith("?lang=nl&token=t")


def test_unsubscribe_token_only_works_for_its_participant() -> None:
    token = make_token("geheim", 12)
    assert participant_id_from_token("geheim", token) == 12
    assert participant_id_from_token("ander-geheim", token) is None
    assert participant_id_from_token("geheim", token.replace("12.", "13.", 1)) is None
    assert participant_id_from_token("geheim", "garbage") is None


def test_html_fragment_keeps_paragraphs_and_line_breaks() -> None:
    assert html_fragment("a\nb\n\nc <d>") == "<p>a<br>\nb</p>\n<p>c &lt;d&gt;</p>"


def test_mask_hides_the_local_part() -> None:
    assert mask("jan.jansen@example.nl") == "j***n@example.nl"
    assert "jan.jansen" not in mask("jan.jansen@example.nl")
