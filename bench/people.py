"""Customers as a Ukrainian chain has them: Ukrainian, Russian and English names, their
emails and Ukrainian mobile numbers (one in ten customers gave only one of them). Shared
by bench/dataset.py and bench/search.py (whose searches look for these names)."""

from __future__ import annotations

import random

UA_FIRST = (
    "Олена", "Ірина", "Наталія", "Оксана", "Тетяна", "Юлія", "Марія", "Анна", "Катерина",
    "Світлана", "Людмила", "Вікторія", "Ганна", "Софія", "Дарина", "Андрій", "Олександр",
    "Сергій", "Дмитро", "Микола", "Іван", "Василь", "Володимир", "Петро", "Юрій", "Богдан",
    "Тарас", "Максим", "Олег", "Віталій",
)
UA_LAST = (
    "Коваль", "Шевченко", "Бондаренко", "Ткаченко", "Кравченко", "Олійник", "Шевчук",
    "Коваленко", "Поліщук", "Бойко", "Мельник", "Ковальчук", "Савченко", "Руденко", "Марченко",
    "Лисенко", "Петренко", "Мороз", "Павленко", "Левченко", "Гончаренко", "Кузьменко",
    "Харченко", "Клименко", "Дмитренко", "Сидоренко", "Романенко", "Панченко", "Карпенко",
    "Литвиненко", "Мазур", "Кушнір", "Ярошенко", "Власенко",
)
RU_FIRST = (
    "Елена", "Ирина", "Наталья", "Ольга", "Татьяна", "Юлия", "Мария", "Анна", "Екатерина",
    "Светлана", "Людмила", "Алексей", "Александр", "Сергей", "Дмитрий", "Николай", "Иван",
    "Михаил", "Владимир", "Павел", "Юрий", "Андрей", "Максим", "Олег", "Виктор",
)
RU_LAST = (
    "Иванов", "Смирнов", "Кузнецов", "Попов", "Васильев", "Петров", "Соколов", "Михайлов",
    "Новиков", "Федоров", "Морозов", "Волков", "Алексеев", "Лебедев", "Семенов", "Егоров",
    "Павлов", "Козлов", "Степанов", "Николаев", "Орлов", "Андреев", "Макаров", "Никитин",
    "Захаров",
)
RU_FEMALE = {"Елена", "Ирина", "Наталья", "Ольга", "Татьяна", "Юлия", "Мария", "Анна",
             "Екатерина", "Светлана", "Людмила"}
EN_FIRST = (
    "Emily", "Olivia", "Sophie", "Jessica", "Emma", "Charlotte", "Hannah", "Grace", "Lucy",
    "Amelia", "James", "John", "Robert", "Michael", "William", "David", "Thomas", "Daniel",
    "Oliver", "George", "Harry",
)
EN_LAST = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Taylor",
    "Clark", "Walker", "Wright", "Robinson", "Thompson", "White", "Hughes", "Edwards", "Green",
    "Hall", "Wood",
)
DOMAINS = ("gmail.com", "ukr.net", "i.ua", "yahoo.com", "outlook.com", "meta.ua",
           "mail.example")
OPERATORS = ("50", "63", "66", "67", "68", "73", "93", "95", "96", "97", "98", "99")
LATIN = dict(zip("абвгґдеєжзиіїйклмнопрстуфхцчшщьюяыэёъ'", (
    "a", "b", "v", "h", "g", "d", "e", "ye", "zh", "z", "y", "i", "yi", "y", "k", "l", "m",
    "n", "o", "p", "r", "s", "t", "u", "f", "kh", "ts", "ch", "sh", "shch", "", "yu", "ya",
    "y", "e", "e", "", ""), strict=True))


def latin(name: str) -> str:
    return "".join(LATIN.get(char, char) for char in name.lower())


def person(rng: random.Random) -> tuple[str, str, str]:
    """A name, its Latin letters (for the email) and the language it suggests."""
    roll = rng.random()
    if roll < 0.45:
        first, last, locale = rng.choice(UA_FIRST), rng.choice(UA_LAST), "uk"
    elif roll < 0.8:
        first, last, locale = rng.choice(RU_FIRST), rng.choice(RU_LAST), "ru"
        last += "а" if first in RU_FEMALE else ""
    else:
        first, last, locale = rng.choice(EN_FIRST), rng.choice(EN_LAST), "en"
    return f"{first} {last}", f"{latin(first)}.{latin(last)}", locale


def contacts(rng: random.Random, identity: int, letters: str) -> tuple[str | None, str | None]:
    """An email and a phone, unique per merchant (both built from ``identity``): one
    customer in ten has only a phone, one in ten only an email."""
    email = f"{letters}{identity}@{rng.choice(DOMAINS)}"
    # 7 digits from a bijection of the id, after the operator.
    phone = (f"+380{OPERATORS[identity % len(OPERATORS)]}"
             f"{(identity * 7_919) % 10_000_000:07d}")
    roll = rng.random()
    return (None, phone) if roll < 0.1 else (email, None) if roll < 0.2 else (email, phone)
