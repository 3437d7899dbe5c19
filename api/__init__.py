"""The service's shells: the command line, the JSON API and the officers' web pages."""
