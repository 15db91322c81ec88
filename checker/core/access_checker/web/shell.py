"""The widget's shell: what the page shows before Python runs, written into the page by the build.

The build renders this tree as HTML (``El.to_html``), so the idle widget and the booted one
come from the same Python views. The page's JavaScript adds only what must exist before
Python: boot progress and boot failures. ``SLOTS`` are the places the worker's views fill in.
"""

from __future__ import annotations

from typing import Final

from access_checker.web.elements import El, h

# In page order. "who" sits in the sign-in bar; the others in the app area.
SLOTS: Final = ("who", "note", "assessment", "form", "outputs", "privacy")


def _button(action: str, text: str, *, hidden: bool = False, **data: str) -> El:
    attrs = {"type": "button", "class": "access-checker__button", "data-action": action,
             **{f"data-{k.replace('_', '-')}": v for k, v in data.items()}}
    if hidden:
        attrs["hidden"] = ""
    return h("button", attrs, text)


def shell_view(*, signin: bool) -> list[El]:
    """The root's children. ``signin``: the build has a client id, so readers can sign in."""
    if signin:
        intro = ("Sign in to see your level, overall and per project, what it allows and why; or fill in "
                 "an upgrade request by hand.")
        actions = [
            _button("sign-in", "Sign in and check my access", label_again="Sign in again"),
            h("span", {"class": "access-checker__who", "data-slot": "who", "hidden": ""}),
            _button("sign-out", "Sign out", hidden=True),
            h("span", {"class": "access-checker__signout", "hidden": ""}, "Also discard your request draft? ",
              _button("sign-out-keep", "Sign out, keep the draft"), " ",
              _button("sign-out-discard", "Sign out, discard the draft")),
            _button("start", "Check without signing in"),
        ]
    else:
        # No client id (the default until the site is registered with the provider): nothing
        # here may promise a sign-in the page cannot offer.
        intro = ("Start the checker to see what each level allows and how to get more, and to fill in an "
                 "upgrade request.")
        actions = [_button("start", "Start the access checker")]
    return [
        h("p", {"class": "access-checker__title", "id": "access-checker-title"}, "Check your access level"),
        h("p", {"class": "access-checker__intro"},
          intro + " It runs in your browser; nothing is sent anywhere until you choose to contact support."),
        h("div", {"class": "access-checker__actions"}, *actions),
        h("p", {"class": "access-checker__status", "role": "status", "aria-live": "polite"}),
        h("p", {"class": "access-checker__message", "role": "alert", "hidden": ""}),
        h("div", {"class": "access-checker__app"},
          *[h("div", {"data-slot": name}) for name in SLOTS if name != "who"]),
    ]
