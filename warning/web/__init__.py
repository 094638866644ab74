"""The web console and JSON API (`ipwarn web`): FastAPI + Jinja2, server-rendered, no SPA.

See docs/console.md. ``create_app`` builds the ASGI app; every page lives in a module of
``warning.web.routers`` and every authorisation decision goes through
:func:`warning.web.permissions.authorize`.
"""
