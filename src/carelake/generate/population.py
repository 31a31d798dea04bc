"""The true persons of the region, and which hospitals each one is registered at.

Names come from Faker's zh_CN person provider (weighted surnames, given
names by sex), drawn once into pools so building 100 000 persons costs
no per-person Faker calls. Every person has a valid 18-character resident
ID number, a mobile number and a home address in the region.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from faker import Faker
from faker.providers.phone_number.zh_CN import Provider as PhoneProvider

from carelake.generate import resident_id
from carelake.generate.reference import BIRTHPLACE_DISTRICTS, ETHNICITIES, LOCAL_DISTRICTS

_POOL_SIZE = 3000


@dataclass(frozen=True)
class Address:
    region_code: str  # 6-digit administrative division code
    text: str


@dataclass(frozen=True)
class Person:
    key: str  # the true identity, e.g. P0000042
    surname: str
    given_name: str
    sex: str  # "M" or "F"
    birth_date: date
    id_number: str  # 18 characters, upper-case X
    phone: str  # 11-digit mobile number
    address: Address
    ethnicity: str
    insurance_no: str

    @property
    def name(self) -> str:
        return self.surname + self.given_name


class PersonFactory:
    """Draws persons from pools filled once from Faker (zh_CN)."""

    def __init__(self, seed: int):
        fake = Faker("zh_CN")
        fake.seed_instance(seed)
        self.surnames = [fake.last_name() for _ in range(_POOL_SIZE)]
        self.male_names = [fake.first_name_male() for _ in range(_POOL_SIZE)]
        self.female_names = [fake.first_name_female() for _ in range(_POOL_SIZE)]
        self.streets = sorted({fake.street_name() for _ in range(400)})
        self.phone_prefixes = [str(p) for p in PhoneProvider.phonenumber_prefixes]
        self._ethnicities = [e for e, _ in ETHNICITIES]
        self._ethnicity_weights = [w for _, w in ETHNICITIES]

    def address(self, rng: random.Random) -> Address:
        code, province, city, district = rng.choice(LOCAL_DISTRICTS)
        street = rng.choice(self.streets)
        text = f"{province}{city}{district}{street}{rng.randint(1, 999)}号{rng.randint(1, 30)}幢{rng.randint(1, 4)}单元{rng.randint(1, 30)}{rng.randint(1, 4):02d}室"
        return Address(code, text)

    def phone(self, rng: random.Random) -> str:
        return f"{rng.choice(self.phone_prefixes)}{rng.randrange(10**8):08d}"

    def person(self, number: int, rng: random.Random, today: date) -> Person:
        male = rng.random() < 0.49
        birth = today - timedelta(days=rng.randint(0, 92 * 365))
        id_region = rng.choice(LOCAL_DISTRICTS)[0] if rng.random() < 0.8 else rng.choice(BIRTHPLACE_DISTRICTS)
        return Person(
            key=f"P{number:07d}",
            surname=rng.choice(self.surnames),
            given_name=rng.choice(self.male_names if male else self.female_names),
            sex="M" if male else "F",
            birth_date=birth,
            id_number=resident_id.make(id_region, birth, male, rng),
            phone=self.phone(rng),
            address=self.address(rng),
            ethnicity=rng.choices(self._ethnicities, self._ethnicity_weights)[0],
            insurance_no=f"{id_region[:4]}{rng.randrange(10**12):012d}",
        )


def build_population(
    factory: PersonFactory, hospitals: int, patients: int, overlap: float, rng: random.Random, today: date
) -> tuple[list[Person], list[list[int]]]:
    """Persons, and for each hospital the indexes of the persons it registers.

    Each hospital registers ``patients`` persons; about ``overlap`` of them are
    shared with exactly one other hospital (so they appear in two sources).
    """
    shared_per_hospital = round(patients * overlap) if hospitals > 1 else 0
    shared_count = shared_per_hospital * hospitals // 2
    members: list[list[int]] = [[] for _ in range(hospitals)]
    for index in range(shared_count):  # shared persons: hospital a and a different hospital b
        a = index % hospitals
        b = (a + 1 + (index // hospitals) % (hospitals - 1)) % hospitals
        members[a].append(index)
        members[b].append(index)
    total = shared_count
    for hospital in range(hospitals):  # top up with persons seen at this hospital only
        del members[hospital][patients:]
        need = patients - len(members[hospital])
        members[hospital].extend(range(total, total + need))
        total += need
        rng.shuffle(members[hospital])
    persons: list[Person] = []
    seen_ids: set[str] = set()
    while len(persons) < total:
        person = factory.person(len(persons) + 1, rng, today)
        if person.id_number not in seen_ids:
            seen_ids.add(person.id_number)
            persons.append(person)
    return persons, members


class Arrivals:
    """Persons who register at a hospital after the simulated window: some new to the region, some
    (``overlap`` of them) already registered at another hospital. One random stream, drawn day by day."""

    def __init__(self, factory: PersonFactory, persons: list[Person], overlap: float, seed: int, today: date):
        self.factory = factory
        self.persons = list(persons)
        self.overlap = overlap
        self.today = today
        self.rng = random.Random(f"{seed}:arrivals")
        self.seen_ids = {p.id_number for p in persons}

    def draw(self, expected: float, registered_here: set[str]) -> list[Person]:
        """About ``expected`` persons (the window's daily rate) not registered at this hospital yet."""
        rng = self.rng
        count = int(expected) + (rng.random() < expected - int(expected))
        drawn: list[Person] = []
        while len(drawn) < count:
            if rng.random() < self.overlap:
                known = rng.choice(self.persons)
                if known.key not in registered_here and known not in drawn:
                    drawn.append(known)
                continue
            person = self.factory.person(len(self.persons) + 1, rng, self.today)
            if person.id_number not in self.seen_ids:
                self.seen_ids.add(person.id_number)
                self.persons.append(person)
                drawn.append(person)
        return drawn
