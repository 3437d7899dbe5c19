"""The operations both shells share: registration, decisions, accounts, batches, exports, models.

The web app (``api``) and the command line (``cli``) parse their input and present the results;
what they do in between is here, once. Nothing in this package speaks HTTP or click: an operation
raises ``service.errors`` (the web app maps them to status codes in ``api.errors``) and takes the
installation's ``service.settings.Settings`` from its caller.
"""
