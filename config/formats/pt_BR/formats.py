# Numeric day first, as Brazilians write dates: 03/12/2026 14:30. Month names
# (the admin's date filters, YEAR_MONTH_FORMAT) are lower case, from our
# catalogue (helpdesk/i18n_overrides.py).
DATE_FORMAT = "d/m/Y"
TIME_FORMAT = "H:i"
DATETIME_FORMAT = "d/m/Y H:i"
SHORT_DATE_FORMAT = "d/m/Y"
SHORT_DATETIME_FORMAT = "d/m/Y H:i"
YEAR_MONTH_FORMAT = r"F \d\e Y"
MONTH_DAY_FORMAT = r"j \d\e F"
