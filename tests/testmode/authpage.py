"""A browser's part in the 3D Secure test flow, over real HTTP: open the page ``next_action``
points to, find the form with the wanted button, submit it, follow the 303.

Only what a plain HTML browser does: parse the forms (``html.parser``), post their fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

import aiohttp
from yarl import URL

COMPLETE = "Complete authentication"
FAIL = "Fail authentication"


@dataclass
class Form:
    method: str
    action: str
    fields: dict[str, str] = field(default_factory=dict)
    buttons: list[str] = field(default_factory=list)


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self._in_button = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append(Form(a.get("method", "get").lower(), a.get("action", "")))
        elif tag == "input" and self.forms and a.get("name"):
            self.forms[-1].fields[a["name"]] = a.get("value", "")
        elif tag == "button" and self.forms:
            self._in_button = True
            self.forms[-1].buttons.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "button":
            self._in_button = False

    def handle_data(self, data: str) -> None:
        if self._in_button:
            self.forms[-1].buttons[-1] += data


def next_action_url(intent: object) -> str:
    """The page URL of an intent in requires_action (either next_action type)."""
    action = getattr(intent, "next_action", None)
    assert action is not None, "the intent has no next_action"
    if action.type == "redirect_to_url":
        return str(action.redirect_to_url.url)
    return str(action.use_stripe_sdk["stripe_js"])


async def open_page(http: aiohttp.ClientSession, url: str) -> tuple[str, list[Form]]:
    async with http.get(url) as r:
        assert r.status == 200, await r.text()
        assert r.content_type == "text/html"
        text = await r.text()
    parser = _Forms()
    parser.feed(text)
    return text, parser.forms


async def press(http: aiohttp.ClientSession, url: str, button: str, *,
                follow: bool = True) -> aiohttp.ClientResponse:
    """Open the page at ``url`` and submit the form whose button reads ``button``. Returns the
    final response (after the 303, when ``follow``), read."""
    _, forms = await open_page(http, url)
    form = next(f for f in forms if button in [b.strip() for b in f.buttons])
    assert form.method == "post"
    target = URL(url).join(URL(form.action)) if form.action else URL(url)
    async with http.post(target, data=form.fields, allow_redirects=follow) as r:
        await r.read()
        return r
