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
        "check_mail_title": "Check your mail",
        "check_mail_body": "You are already one of our customers, so we have sent a link to "
                           "your {program} card to the email address we have for you. "
                           "Open it on this phone.",
        "check_mail_hint": "The link works once and expires in {minutes} minutes. No mail? "
                           "Look in the spam folder, or ask again in a few minutes.",
        "counter_title": "Ask at the counter",
        "counter_body": "You are already one of our customers. Ask at the counter and we "
                        "will find your {program} card for you.",
        "recovery_confirm_body": "Tap the button to open your card on this device.",
        "recovery_confirm_button": "Show my card",
        "recovery_once": "This link works once: then keep the card's page, or add the card "
                         "to your wallet.",
        "link_used": "This link has already been used.",
        "link_expired": "This link has expired.",
        "link_invalid": "This link is not valid.",
        "link_new_how": "A link to a card works once and expires in {minutes} minutes. To "
                        "get a new one, open the sign-up page again and enter your email: we will "
                        "send a fresh link to the address we have for you.",
        "link_new_how_counter": "A link to a card works once and expires in {minutes} "
                                "minutes. To get a new one, scan the QR code at the "
                                "counter again and enter your email: we will send a fresh "
                                "link to the address we have for you.",
        "link_new_button": "Open the sign-up page",
        "session_expired": "Your session expired; please press the button again.",
        "form_expired": "Your session expired; please send the form again.",
        "recovery_mail_subject": "Your {program} card",
        "recovery_mail_body": "Hello,\n\nsomeone, probably you, asked for your {program} "
                              "card from {merchant}. Open this link to see it and add it to "
                              "your wallet:\n\n{url}\n\nThe link works once and expires in "
                              "{minutes} minutes.\n\nIf you did not ask for this, ignore "
                              "this mail: your card stays as it is.\n",
        "pass_next_tier": "Spend {amount} more for {tier}",
        "pass_history_welcome": "Welcome bonus",
        "pass_history_earn": "Purchase",
        "pass_history_redeem": "Paid with points",
        "pass_history_bonus": "Bonus",
        "pass_history_adjust": "Correction",
        "pass_history_reverse": "Refund",
        "pass_history_expire": "Points expired",
        "pass_history_reward_earned": "Reward earned",
        "pass_history_reward_used": "Reward received",
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
        "check_mail_title": "Проверьте почту",
        "check_mail_body": "Вы уже наш клиент, поэтому мы отправили ссылку на вашу карту "
                           "{program} на адрес электронной почты, который у нас есть. "
                           "Откройте её на этом телефоне.",
        "check_mail_hint": "Ссылка действует {minutes} минут и работает один раз. Письма нет? "
                           "Проверьте папку «Спам» или попробуйте снова через несколько минут.",
        "counter_title": "Обратитесь на кассу",
        "counter_body": "Вы уже наш клиент. Обратитесь на кассу, и мы найдём вашу карту "
                        "{program}.",
        "recovery_confirm_body": "Нажмите кнопку, чтобы открыть карту на этом устройстве.",
        "recovery_confirm_button": "Показать карту",
        "recovery_once": "Ссылка работает один раз: потом сохраните страницу карты или "
                         "добавьте карту в кошелёк.",
        "link_used": "Эта ссылка уже использована.",
        "link_expired": "Срок действия ссылки истёк.",
        "link_invalid": "Эта ссылка недействительна.",
        "link_new_how": "Ссылка на карту действует {minutes} минут и работает один раз. "
                        "Чтобы получить новую, снова откройте страницу регистрации и "
                        "введите свою почту: мы отправим новую ссылку на адрес, который у "
                        "нас есть.",
        "link_new_how_counter": "Ссылка на карту действует {minutes} минут и работает один "
                                "раз. Чтобы получить новую, снова отсканируйте QR-код на кассе и "
                                "введите свою почту: мы отправим новую ссылку на адрес, "
                                "который у нас есть.",
        "link_new_button": "Открыть страницу регистрации",
        "session_expired": "Сессия истекла; нажмите кнопку ещё раз.",
        "form_expired": "Сессия истекла; отправьте форму ещё раз.",
        "recovery_mail_subject": "Ваша карта {program}",
        "recovery_mail_body": "Здравствуйте!\n\nКто-то, вероятно вы, запросил вашу карту "
                              "{program} от {merchant}. Откройте ссылку, чтобы увидеть карту "
                              "и добавить её в кошелёк:\n\n{url}\n\nСсылка работает один "
                              "раз и действует {minutes} минут.\n\nЕсли вы этого не "
                              "запрашивали, просто не обращайте внимания на это письмо: "
                              "с вашей картой ничего не случится.\n",
        "pass_next_tier": "Ещё {amount} до уровня {tier}",
        "pass_history_welcome": "Приветственный бонус",
        "pass_history_earn": "Покупка",
        "pass_history_redeem": "Оплата баллами",
        "pass_history_bonus": "Бонус",
        "pass_history_adjust": "Корректировка",
        "pass_history_reverse": "Возврат",
        "pass_history_expire": "Баллы сгорели",
        "pass_history_reward_earned": "Подарок заработан",
        "pass_history_reward_used": "Подарок получен",
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
        "check_mail_title": "Перевірте пошту",
        "check_mail_body": "Ви вже наш клієнт, тож ми надіслали посилання на вашу картку "
                           "{program} на адресу електронної пошти, яку маємо. Відкрийте "
                           "його на цьому телефоні.",
        "check_mail_hint": "Посилання діє {minutes} хвилин і працює один раз. Листа немає? "
                           "Перевірте теку «Спам» або спробуйте знову за кілька хвилин.",
        "counter_title": "Зверніться до каси",
        "counter_body": "Ви вже наш клієнт. Зверніться до каси, і ми знайдемо вашу картку "
                        "{program}.",
        "recovery_confirm_body": "Натисніть кнопку, щоб відкрити картку на цьому пристрої.",
        "recovery_confirm_button": "Показати картку",
        "recovery_once": "Посилання працює один раз: потім збережіть сторінку картки або "
                         "додайте картку в гаманець.",
        "link_used": "Це посилання вже використано.",
        "link_expired": "Термін дії посилання минув.",
        "link_invalid": "Це посилання недійсне.",
        "link_new_how": "Посилання на картку діє {minutes} хвилин і працює один раз. Щоб "
                        "отримати нове, знову відкрийте сторінку реєстрації та введіть свою пошту: "
                        "ми надішлемо нове посилання на адресу, яку маємо.",
        "link_new_how_counter": "Посилання на картку діє {minutes} хвилин і працює один "
                                "раз. Щоб отримати нове, знову відскануйте QR-код на касі "
                                "та введіть свою пошту: ми надішлемо нове посилання на "
                                "адресу, яку маємо.",
        "link_new_button": "Відкрити сторінку реєстрації",
        "session_expired": "Сесія завершилася; натисніть кнопку ще раз.",
        "form_expired": "Сесія завершилася; надішліть форму ще раз.",
        "recovery_mail_subject": "Ваша картка {program}",
        "recovery_mail_body": "Вітаємо!\n\nХтось, імовірно ви, запросив вашу картку "
                              "{program} від {merchant}. Відкрийте посилання, щоб побачити "
                              "картку й додати її в гаманець:\n\n{url}\n\nПосилання "
                              "працює один раз і діє {minutes} хвилин.\n\nЯкщо ви цього не "
                              "запитували, просто не зважайте на цей лист: з вашою карткою "
                              "нічого не станеться.\n",
        "pass_next_tier": "Ще {amount} до рівня {tier}",
        "pass_history_welcome": "Вітальний бонус",
        "pass_history_earn": "Покупка",
        "pass_history_redeem": "Оплата балами",
        "pass_history_bonus": "Бонус",
        "pass_history_adjust": "Коригування",
        "pass_history_reverse": "Повернення",
        "pass_history_expire": "Бали згоріли",
        "pass_history_reward_earned": "Подарунок зароблено",
        "pass_history_reward_used": "Подарунок отримано",
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
