"""Notifications: templates, routing, quiet hours, digests, apprise delivery and the outbox.

The package exports nothing itself: importing one module (the config needs the notifier
settings, not the outbox) does not import the others. Import names from their modules.
"""
