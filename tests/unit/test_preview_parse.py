"""A page's preview from its HTML (parley.previews.parse): which tag wins, how text is
cleaned and bounded, how the image URL is resolved."""

from __future__ import annotations

from parley.previews.parse import (
    MAX_DESCRIPTION,
    MAX_TITLE,
    absolute_http_url,
    clean,
    decode,
    preview_from_html,
)

PAGE = "https://example.test/a/page.html"


def _preview(head: str, final_url: str = PAGE) -> dict[str, str | None] | None:
    found = preview_from_html(f"<html><head>{head}</head></html>", url="u", final_url=final_url)
    return None if found is None else found.model_dump(exclude={"url"})


def test_opengraph_wins_over_twitter_and_plain_tags() -> None:
    assert _preview(
        '<title>plain</title><meta name="description" content="plain d">'
        '<meta name="twitter:title" content="card"><meta property="og:title" content="og">'
        '<meta name="twitter:description" content="card d">'
        '<meta property="og:description" content="og d">'
        '<meta property="og:site_name" content="Site">'
    ) == {"title": "og", "description": "og d", "image_url": None, "site_name": "Site"}


def test_plain_title_and_description_are_the_last_fallback() -> None:
    assert _preview('<title>plain</title><meta name="description" content="plain d">') == {
        "title": "plain",
        "description": "plain d",
        "image_url": None,
        "site_name": None,
    }


def test_a_page_without_title_description_or_image_has_no_preview() -> None:
    assert _preview('<meta property="og:site_name" content="Site">') is None
    assert _preview("<title>   </title>") is None


def test_relative_image_is_resolved_against_the_final_url() -> None:
    found = _preview('<meta property="og:image" content="../img/x.png">')
    assert found is not None and found["image_url"] == "https://example.test/img/x.png"
    found = _preview('<meta property="og:image" content="//cdn.test/y.png">', "http://a.test/")
    assert found is not None and found["image_url"] == "http://cdn.test/y.png"


def test_an_image_that_is_not_http_is_dropped() -> None:
    for reference in ("javascript:alert(1)", "data:image/png;base64,AAAA", "file:///etc/passwd"):
        head = f'<title>t</title><meta property="og:image" content="{reference}">'
        found = _preview(head)
        assert found is not None and found["image_url"] is None, reference


def test_control_and_bidi_characters_are_stripped_and_space_collapsed() -> None:
    assert clean("a\x00b\x07c\u202ed\n\t e\u2066", 100) == "abcd e"
    assert clean("\x1b[31m red", 100) == "[31m red"
    assert clean(" \x00 ", 100) is None


def test_every_field_is_bounded() -> None:
    found = _preview(
        f'<meta property="og:title" content="{"t" * 5000}">'
        f'<meta property="og:description" content="{"d" * 5000}">'
        f'<meta property="og:site_name" content="{"s" * 5000}">'
        f'<meta property="og:image" content="/{"i" * 5000}">'
    )
    assert found is not None
    assert len(found["title"] or "") == MAX_TITLE
    assert len(found["description"] or "") == MAX_DESCRIPTION
    assert len(found["site_name"] or "") == 100
    assert found["image_url"] is None  # too long to be a URL worth keeping


def test_entities_are_decoded_once() -> None:
    found = _preview('<meta property="og:title" content="Tom &amp; Jerry &lt;3">')
    assert found is not None and found["title"] == "Tom & Jerry <3"


def test_charset_from_the_header_then_the_meta_tag_then_utf8() -> None:
    latin = "<title>caf\xe9</title>".encode("latin-1")
    assert decode(latin, "iso-8859-1") == "<title>caf\xe9</title>"
    assert decode(b'<meta charset="latin-1">' + latin, None).endswith("caf\xe9</title>")
    assert decode("<title>caf\xe9</title>".encode(), None) == "<title>caf\xe9</title>"
    assert decode(latin, "no-such-charset") == "<title>caf\ufffd</title>"


def test_absolute_http_url_refuses_what_is_not_a_web_address() -> None:
    assert absolute_http_url(PAGE, None) is None
    assert absolute_http_url(PAGE, "mailto:a@b.test") is None
    assert absolute_http_url(PAGE, "/x.png") == "https://example.test/x.png"
