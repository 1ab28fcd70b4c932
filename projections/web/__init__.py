"""The partnership's web dashboard, served by the query API at `/`.

Server-rendered HTML from Jinja2 templates with autoescaping (`templating.py`, `templates/`),
inline SVG charts (`charts.py`), every asset local (`static/`), and one small script that
listens to the live feed (`/api/live`). See `routes.py` for sign-in.
"""

from projections.web.routes import install_dashboard

__all__ = ["install_dashboard"]
