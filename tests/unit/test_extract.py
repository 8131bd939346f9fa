"""Pure tests of parley.messages.extract: mentions, hashtags and URLs in message text."""

from __future__ import annotations

from parley.messages.extract import hashtags, mentions, metadata_for, urls

# --- mentions ---------------------------------------------------------------------------------


def test_mention_of_username() -> None:
    assert mentions("hi @alice, how are you?") == ["alice"]


def test_mention_with_dot_is_lower_cased() -> None:
    assert mentions("ping @Bob.Smith please") == ["bob.smith"]


def test_mention_trailing_dot_is_stripped() -> None:
    assert mentions("thanks @carol.") == ["carol"]


def test_mention_at_start_of_text() -> None:
    assert mentions("@dave look") == ["dave"]


def test_email_address_is_not_a_mention() -> None:
    assert mentions("write to bob@example.com today") == []


def test_repeated_mentions_are_listed_once_in_order() -> None:
    assert mentions("@erin @alice @Erin and @erin") == ["erin", "alice"]


def test_lone_at_sign_is_not_a_mention() -> None:
    assert mentions("meet @ noon") == []


# --- hashtags ---------------------------------------------------------------------------------


def test_hashtag_is_lower_cased() -> None:
    assert hashtags("big day #Launch") == ["launch"]


def test_numeric_hashtag_is_ignored() -> None:
    assert hashtags("we are #1 today") == []


def test_html_entity_is_not_a_hashtag() -> None:
    assert hashtags("it&#39;s fine") == []


def test_repeated_hashtags_are_listed_once() -> None:
    assert hashtags("#ship #Ship #release #ship") == ["ship", "release"]


def test_hashtag_inside_word_is_ignored() -> None:
    assert hashtags("issue#42abc") == []


# --- urls -------------------------------------------------------------------------------------


def test_url_trailing_period_is_stripped() -> None:
    assert urls("see https://example.com/a.") == ["https://example.com/a"]


def test_url_in_parentheses_drops_closing_paren() -> None:
    assert urls("(docs at https://example.org/guide)") == ["https://example.org/guide"]


def test_url_trailing_punctuation_run_is_stripped() -> None:
    assert urls("really? https://example.net/x?!") == ["https://example.net/x"]


def test_url_query_string_is_kept() -> None:
    assert urls("go to http://example.com/p?q=1&r=2 now") == ["http://example.com/p?q=1&r=2"]


def test_multiple_urls_in_order() -> None:
    text = "first https://a.example/one, then http://b.example/two; done"
    assert urls(text) == ["https://a.example/one", "http://b.example/two"]


def test_repeated_url_is_listed_once() -> None:
    assert urls("https://a.example https://a.example") == ["https://a.example"]


def test_bare_www_link_is_found_with_https() -> None:
    assert urls("docs: www.python.org") == ["https://www.python.org"]


def test_bare_www_link_keeps_path_not_trailing_period() -> None:
    assert urls("see www.example.com/path.") == ["https://www.example.com/path"]


def test_bare_www_link_in_parentheses_and_before_comma() -> None:
    text = "(www.a.example/x), www.b.example, done"
    assert urls(text) == ["https://www.a.example/x", "https://www.b.example"]


def test_bare_www_link_keeps_query_and_port() -> None:
    assert urls("www.example.com:8080/p?q=1&r=2!") == ["https://www.example.com:8080/p?q=1&r=2"]


def test_www_inside_a_full_url_is_found_once() -> None:
    assert urls("https://www.example.com/a and http://www.example.org") == [
        "https://www.example.com/a",
        "http://www.example.org",
    ]


def test_bare_www_link_and_same_https_url_are_one_entry() -> None:
    assert urls("www.example.com or https://www.example.com") == ["https://www.example.com"]


def test_bare_and_full_links_keep_their_order() -> None:
    assert urls("www.one.example then https://two.example") == [
        "https://www.one.example",
        "https://two.example",
    ]


def test_www_without_a_host_or_inside_words_is_not_a_link() -> None:
    assert (
        urls("www. is a prefix, www.localhost too, and xwww.example.com or a@www.example.com") == []
    )


def test_text_without_url_has_none() -> None:
    assert urls("example.com is not a link without a scheme") == []


# --- metadata ---------------------------------------------------------------------------------


def test_metadata_for_empty_text_is_empty_lists() -> None:
    assert metadata_for(None) == {"mentions": [], "hashtags": [], "urls": [], "urlPreviews": []}


def test_metadata_for_collects_all_kinds() -> None:
    metadata = metadata_for("@alice see #Plan at https://example.com.")
    assert metadata["mentions"] == ["alice"]
    assert metadata["hashtags"] == ["plan"]
    assert metadata["urls"] == ["https://example.com"]
