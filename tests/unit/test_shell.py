"""The widget's shell: the idle view the build writes into the page, from the Python views."""

from __future__ import annotations

from access_checker.web.elements import h
from access_checker.web.shell import SLOTS, shell_view


def html(signin: bool) -> str:
    return "".join(el.to_html() for el in shell_view(signin=signin))


def test_without_a_client_id_nothing_promises_a_sign_in() -> None:
    page = html(signin=False)
    assert "sign in" not in page.lower() and 'data-action="sign-in"' not in page
    assert 'data-action="start"' in page and "Start the access checker" in page


def test_with_a_client_id_the_reader_can_sign_in_or_not() -> None:
    page = html(signin=True)
    assert "Sign in to see your level" in page
    for action in ("sign-in", "sign-out", "sign-out-keep", "sign-out-discard", "start"):
        assert f'data-action="{action}"' in page
    assert 'data-label-again="Sign in again"' in page


def test_every_slot_the_session_fills_is_in_the_shell() -> None:
    for signin in (True, False):
        page = html(signin)
        missing = [name for name in SLOTS if f'data-slot="{name}"' not in page and not (name == "who" and not signin)]
        assert not missing


def test_html_escapes_text_and_attributes() -> None:
    el = h("p", {"title": '"><script>', "hidden": ""}, "<b>&</b>", h("input", {"value": "a\"b"}))
    assert el.to_html() == '<p title="&quot;&gt;&lt;script&gt;" hidden>&lt;b&gt;&amp;&lt;/b&gt;<input value="a&quot;b"></p>'
