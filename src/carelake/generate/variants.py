"""How one hospital records a person: the small differences a patient index must see through.

A registration clerk may type a similar-looking or same-sounding character
for one in the name, write the resident ID with a lower-case x or with
spaces, give the phone with +86 or dashes; the person may have moved
since another hospital registered them. These are not defects: each
hospital's record is plausible, they just disagree.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from carelake.generate.population import Address, Person, PersonFactory
from carelake.generate.reference import SIMILAR_CHARS

NAME_TYPO_RATE = 0.05
ID_FORMAT_RATE = 0.06
PHONE_FORMAT_RATE = 0.12
MOVED_RATE = 0.06
ADDRESS_LINE_BREAK_RATE = 0.01  # CSV layouts only: an address typed on two lines


@dataclass(frozen=True)
class RecordedPerson:
    name: str
    id_number: str
    phone: str
    address: Address
    variations: tuple[str, ...]


def name_with_typo(name: str, rng: random.Random) -> str | None:
    positions = [i for i, ch in enumerate(name) if ch in SIMILAR_CHARS]
    if not positions:
        return None
    i = rng.choice(positions)
    return name[:i] + SIMILAR_CHARS[name[i]] + name[i + 1 :]


def formatted_id_number(number: str, rng: random.Random) -> str:
    if number.endswith("X") and rng.random() < 0.6:
        return number[:-1] + "x"
    return f"{number[:6]} {number[6:14]} {number[14:]}"


def formatted_phone(phone: str, rng: random.Random) -> str:
    style = rng.randrange(3)
    if style == 0:
        return "+86" + phone
    if style == 1:
        return f"{phone[:3]}-{phone[3:7]}-{phone[7:]}"
    return f"+86 {phone[:3]} {phone[3:7]} {phone[7:]}"


def record_person(person: Person, factory: PersonFactory, rng: random.Random, multiline_ok: bool) -> RecordedPerson:
    variations = []
    name = person.name
    typo = name_with_typo(name, rng) if rng.random() < NAME_TYPO_RATE else None
    if typo:
        name = typo
        variations.append("name_typo")
    id_number = person.id_number
    if rng.random() < ID_FORMAT_RATE:
        id_number = formatted_id_number(id_number, rng)
        variations.append("id_format")
    phone = person.phone
    if rng.random() < PHONE_FORMAT_RATE:
        phone = formatted_phone(phone, rng)
        variations.append("phone_format")
    address = person.address
    if rng.random() < MOVED_RATE:
        address = factory.address(rng)
        variations.append("moved")
    if multiline_ok and rng.random() < ADDRESS_LINE_BREAK_RATE:
        cut = address.text.index("区") + 1 if "区" in address.text else 6
        address = Address(address.region_code, address.text[:cut] + "\n" + address.text[cut:])
        variations.append("address_line_break")
    return RecordedPerson(name, id_number, phone, address, tuple(variations))
