"""The web shell: the JSON API under ``/api/v1`` (``api.routes``) and the officers' pages (``api.pages``).

Routes and pages parse requests and present what ``service`` answers; they never import each other,
and share only the modules of this package (dependencies, error mapping, responses, presenters).
"""
