"""Chinese resident identity card numbers (居民身份证号, GB 11643-1999).

18 characters: 6-digit administrative division code of the place of birth
registration, 8-digit birth date, 3-digit sequence (odd for men, even for
women) and an ISO 7064 MOD 11-2 check character (0-9 or X).
"""

from __future__ import annotations

import random
from datetime import date

_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))  # 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2
_CHECK_CHARS = "10X98765432"


def check_character(first17: str) -> str:
    """The MOD 11-2 check character for the first 17 digits."""
    total = sum(int(digit) * weight for digit, weight in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def is_valid(number: str) -> bool:
    """True for a well-formed 18-character number whose check character matches."""
    number = number.upper()
    return len(number) == 18 and number[:17].isdigit() and check_character(number[:17]) == number[17]


def make(region_code: str, birth_date: date, male: bool, rng: random.Random) -> str:
    sequence = rng.randrange(0, 500) * 2 + (1 if male else 0)
    first17 = f"{region_code}{birth_date:%Y%m%d}{sequence:03d}"
    return first17 + check_character(first17)
