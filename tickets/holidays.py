"""Brazil's national holidays, computed (no table to keep up to date).

The fixed dates are federal law (Lei 662/1949, 6.802/1980, 10.607/2002 and,
for 20 November, 14.759/2023, from 2024 on). Good Friday is a national
holiday too; Carnival Monday and Tuesday and Corpus Christi are "pontos
facultativos" most businesses close on, so they are listed and a calendar's
admin deletes them where people work. Names are in Portuguese: they are
data about Brazil, shown as entered.
"""

from __future__ import annotations

import datetime

FIXED = [
    (1, 1, "Confraternização Universal"),
    (4, 21, "Tiradentes"),
    (5, 1, "Dia do Trabalho"),
    (9, 7, "Independência do Brasil"),
    (10, 12, "Nossa Senhora Aparecida"),
    (11, 2, "Finados"),
    (11, 15, "Proclamação da República"),
    (12, 25, "Natal"),
]
CONSCIENCIA_NEGRA_SINCE = 2024
# Days from Easter Sunday.
MOVABLE = [
    (-48, "Carnaval (segunda-feira)"),
    (-47, "Carnaval (terça-feira)"),
    (-2, "Sexta-feira Santa"),
    (60, "Corpus Christi"),
]


def easter(year: int) -> datetime.date:
    """Easter Sunday in the Gregorian calendar (the anonymous algorithm,
    Meeus/Jones/Butcher)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    el = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * el) // 451
    month, day = divmod(h + el - 7 * m + 114, 31)
    return datetime.date(year, month, day + 1)


def brazil_national_holidays(year: int) -> list[tuple[datetime.date, str]]:
    """The national holidays (and Carnival and Corpus Christi) of year, in date order."""
    days = [(datetime.date(year, month, day), name) for month, day, name in FIXED]
    if year >= CONSCIENCIA_NEGRA_SINCE:
        days.append((datetime.date(year, 11, 20), "Dia Nacional de Zumbi e da Consciência Negra"))
    sunday = easter(year)
    days += [(sunday + datetime.timedelta(days=offset), name) for offset, name in MOVABLE]
    return sorted(days)
