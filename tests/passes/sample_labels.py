"""Labels for the library's tests, as a caller would hand them in (``passes`` has none of
its own): English, Russian and Ukrainian, and a stamp card's next step in each."""

from __future__ import annotations

from passes.labels import PassLabels

SAMPLE_LABELS = {
    "en": PassLabels(
        points="Points", stamps="Stamps", tier="Tier", member="Member",
        card_number="Card number", reward="Your reward", reward_default="A reward",
        next_tier="Next tier", history="Recent activity", offers="Offers", offer="Offer",
        offers_now="Current offers", no_offers="No offers right now",
        how_it_works="How it works", terms="Terms", support="Support",
        customer_page="Your card page", my_card="My card",
        location_default="Show your card at the counter",
        change_balance="Points on your card: %@", change_stamps="Stamps collected: %@",
        change_reward="Your reward is ready: %@", change_tier="You are now %@"),
    "ru": PassLabels(
        points="Баллы", stamps="Штампы", tier="Уровень", member="Участник",
        card_number="Номер карты", reward="Ваш подарок", reward_default="Подарок",
        next_tier="Следующий уровень", history="Последние операции", offers="Предложения",
        offer="Предложение", offers_now="Текущие предложения",
        no_offers="Сейчас предложений нет", how_it_works="Как это работает",
        terms="Условия", support="Поддержка", customer_page="Страница вашей карты",
        my_card="Моя карта", location_default="Покажите карту на кассе",
        change_balance="Теперь на вашей карте баллов: %@",
        change_stamps="Собрано штампов: %@", change_reward="Ваш подарок ждёт вас: %@",
        change_tier="Ваш новый уровень: %@"),
    "uk": PassLabels(
        points="Бали", stamps="Штампи", tier="Рівень", member="Учасник",
        card_number="Номер картки", reward="Ваш подарунок", reward_default="Подарунок",
        next_tier="Наступний рівень", history="Останні операції", offers="Пропозиції",
        offer="Пропозиція", offers_now="Поточні пропозиції",
        no_offers="Зараз пропозицій немає", how_it_works="Як це працює", terms="Умови",
        support="Підтримка", customer_page="Сторінка вашої картки", my_card="Моя картка",
        location_default="Покажіть картку на касі",
        change_balance="Тепер на вашій картці балів: %@",
        change_stamps="Зібрано штампів: %@", change_reward="Ваш подарунок чекає на вас: %@",
        change_tier="Ваш новий рівень: %@"),
}

_STEP = {"en": "{n} more stamps to your reward", "ru": "Ещё штампов до подарка: {n}",
         "uk": "Ще штампів до подарунка: {n}"}


def sample_labels(locales: tuple[str, ...]) -> dict[str, PassLabels]:
    return {locale: SAMPLE_LABELS[locale] for locale in locales if locale in SAMPLE_LABELS}


def sample_steps(stamps_required: int | None, locales: tuple[str, ...]
                 ) -> dict[int, dict[str, str]]:
    """A sentence per number of stamps missing (no plurals: the app's catalogs make
    those; here the number only has to show through)."""
    return {missing: {locale: _STEP[locale].format(n=missing) for locale in locales
                      if locale in _STEP}
            for missing in range(1, (stamps_required or 0) + 1)}
