"""Plugins shipped with the helpdesk: ordinary Django apps, installed by
naming them in HELPDESK_PLUGINS (README "Plugins"). Each is an example of
the extension points in helpdesk.plugins as much as a feature."""
