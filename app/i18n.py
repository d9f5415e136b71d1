"""The few sentences Loyalpass itself says, in English, Russian and Ukrainian.

Pages and pass texts ask ``translate(locale, key, **values)``; an unknown locale falls
back to English, and every key exists in every locale (a test holds this).
"""

from __future__ import annotations

from collections.abc import Iterable

LOCALES = ("en", "ru", "uk")

CATALOG: dict[str, dict[str, str]] = {
    "en": {
        "earn_rule": "Earn {percent}% of every purchase back in points. "
                     "1 point = {point_value} {currency}.",
        "tier_rule": "{name}: from {min_spend} {currency} spent in 12 months, {percent}% back.",
        "stamps_rule": "Get a stamp with every purchase. {required} stamps: {reward}.",
        "welcome_rule": "{points} welcome points when you join.",
        "reward_default": "a reward",
        "support_email": "Email: {email}",
        "support_phone": "Phone: {phone}",
        "support_website": "Web: {website}",
        "relevant": "Show your card at {name}",
        "join_title": "Join {program}",
        "join_intro": "Your loyalty card, in your phone's wallet. One minute, no app.",
        "name": "Name",
        "email": "Email",
        "phone": "Phone",
        "email_or_phone": "Email or phone — one is enough.",
        "consent": "Send me offers and news from {merchant}. I can opt out at any time.",
        "join_button": "Get my card",
        "card_title": "Your {program} card",
        "card_number": "Card number",
        "balance": "Balance",
        "points": "points",
        "stamps": "Stamps",
        "tier": "Tier",
        "add_to_apple_wallet": "Add to Apple Wallet",
        "add_to_google_wallet": "Add to Google Wallet",
        "tier_upgrade_header": "Welcome to {tier}",
        "tier_upgrade_body": "Your card is now {tier}: you earn more with every purchase.",
        "keep_link": "Keep this page: it is your card's own link.",
        "not_found": "This page does not exist.",
        "error_title": "Please check the form",
        "language": "Language",
        "busy_title": "Too many attempts",
        "busy_body": "Too many tries from here just now. Please try again in a moment.",
    },
    "ru": {
        "earn_rule": "Возвращаем баллами {percent}% от каждой покупки. "
                     "1 балл = {point_value} {currency}.",
        "tier_rule": "{name}: от {min_spend} {currency} покупок за 12 месяцев, {percent}% баллами.",
        "stamps_rule": "Штамп за каждую покупку. {required} штампов: {reward}.",
        "welcome_rule": "{points} приветственных баллов при регистрации.",
        "reward_default": "подарок",
        "support_email": "Почта: {email}",
        "support_phone": "Телефон: {phone}",
        "support_website": "Сайт: {website}",
        "relevant": "Покажите карту в {name}",
        "join_title": "Карта {program}",
        "join_intro": "Карта лояльности в кошельке телефона. Одна минута, без приложений.",
        "name": "Имя",
        "email": "Эл. почта",
        "phone": "Телефон",
        "email_or_phone": "Почта или телефон — достаточно одного.",
        "consent": "Присылайте мне предложения и новости {merchant}. "
                   "Я могу отказаться в любой момент.",
        "join_button": "Получить карту",
        "card_title": "Ваша карта {program}",
        "card_number": "Номер карты",
        "balance": "Баланс",
        "points": "баллов",
        "stamps": "Штампы",
        "tier": "Уровень",
        "add_to_apple_wallet": "Добавить в Apple Wallet",
        "add_to_google_wallet": "Добавить в Google Wallet",
        "tier_upgrade_header": "Ваш уровень — {tier}",
        "tier_upgrade_body": "Теперь ваша карта {tier}: с каждой покупки больше баллов.",
        "keep_link": "Сохраните эту страницу: это ссылка на вашу карту.",
        "not_found": "Такой страницы нет.",
        "error_title": "Проверьте форму",
        "language": "Язык",
        "busy_title": "Слишком много попыток",
        "busy_body": "Отсюда только что было слишком много попыток. Попробуйте ещё раз чуть позже.",
    },
    "uk": {
        "earn_rule": "Повертаємо балами {percent}% від кожної покупки. "
                     "1 бал = {point_value} {currency}.",
        "tier_rule": "{name}: від {min_spend} {currency} покупок за 12 місяців, {percent}% балами.",
        "stamps_rule": "Штамп за кожну покупку. {required} штампів: {reward}.",
        "welcome_rule": "{points} вітальних балів при реєстрації.",
        "reward_default": "подарунок",
        "support_email": "Пошта: {email}",
        "support_phone": "Телефон: {phone}",
        "support_website": "Сайт: {website}",
        "relevant": "Покажіть картку в {name}",
        "join_title": "Картка {program}",
        "join_intro": "Картка лояльності в гаманці телефона. Одна хвилина, без застосунків.",
        "name": "Ім'я",
        "email": "Ел. пошта",
        "phone": "Телефон",
        "email_or_phone": "Пошта або телефон — достатньо одного.",
        "consent": "Надсилайте мені пропозиції та новини {merchant}. "
                   "Я можу відмовитися будь-коли.",
        "join_button": "Отримати картку",
        "card_title": "Ваша картка {program}",
        "card_number": "Номер картки",
        "balance": "Баланс",
        "points": "балів",
        "stamps": "Штампи",
        "tier": "Рівень",
        "add_to_apple_wallet": "Додати в Apple Wallet",
        "add_to_google_wallet": "Додати в Google Wallet",
        "tier_upgrade_header": "Ваш рівень — {tier}",
        "tier_upgrade_body": "Тепер ваша картка {tier}: з кожної покупки більше балів.",
        "keep_link": "Збережіть цю сторінку: це посилання на вашу картку.",
        "not_found": "Такої сторінки немає.",
        "error_title": "Перевірте форму",
        "language": "Мова",
        "busy_title": "Забагато спроб",
        "busy_body": "Звідси щойно було забагато спроб. Спробуйте ще раз трохи згодом.",
    },
}


def translate(locale: str, key: str, **values: object) -> str:
    text = CATALOG.get(locale, CATALOG["en"]).get(key) or CATALOG["en"][key]
    return text.format(**values) if values else text


def best_locale(requested: Iterable[str], available: Iterable[str]) -> str:
    """The first requested language we and the program speak, else the program's first."""
    offered = [locale for locale in available if locale in LOCALES] or ["en"]
    for language in requested:
        primary = language.split("-")[0].split("_")[0].lower()
        if primary in offered:
            return primary
    return offered[0]
