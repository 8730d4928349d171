"""Date formats: one style per language (FORMAT_MODULE_PATH).

Django's own pt_BR formats mix "3 de Dezembro de 2026 às 14:30" (DATETIME_FORMAT)
with "03/12/2026 14:30" (SHORT_DATETIME_FORMAT), and English mixes "Dec. 3,
2026, 2:30 p.m." with "12/03/2026". Pages and mails use both names, so each
language gets one style for both; lists and threads add a relative time
("há 5 min", helpdesk_tags.when). Whatever is not set here (input formats,
separators) comes from Django's module.
"""
