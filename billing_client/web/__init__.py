"""The billing client's web pages for people: the administrator's console (``/admin``, ``admin``)
and the customers' self-care portal (``/portal``, ``portal``), server-rendered (Jinja2), working
without JavaScript. Both call the same use cases as the JSON API; ``pages`` holds what they share
(rendering, sessions, CSRF, sign-in)."""
