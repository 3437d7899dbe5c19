"""The ``xinfang`` command line: parsing options and printing results over ``service`` and below.

It never imports the web app (``api``); ``xinfang serve`` hands uvicorn the app's import string.
"""
