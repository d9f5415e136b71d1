"""The RFM segments as a merchant reads them: a name and a line saying who is in it, in
the page's language (``app.analytics.segments`` documents the scores and the grid)."""

from __future__ import annotations

from app.analytics.models import (
    AT_RISK,
    CANT_LOSE,
    CHAMPIONS,
    HIBERNATING,
    LOST,
    LOYAL,
    NEW,
    PROMISING,
)
from app.i18n import lazy_gettext

SEGMENT_NAMES = {
    CHAMPIONS: lazy_gettext("Champions"),
    LOYAL: lazy_gettext("Loyal"),
    PROMISING: lazy_gettext("Promising"),
    NEW: lazy_gettext("New customers"),
    AT_RISK: lazy_gettext("At risk"),
    CANT_LOSE: lazy_gettext("Can’t lose them"),
    HIBERNATING: lazy_gettext("Hibernating"),
    LOST: lazy_gettext("Lost"),
}
SEGMENT_HINTS = {
    CHAMPIONS: lazy_gettext("came lately, come often and spend the most"),
    LOYAL: lazy_gettext("come regularly and spend well"),
    PROMISING: lazy_gettext("came lately, not often yet"),
    NEW: lazy_gettext("their first visits were lately"),
    AT_RISK: lazy_gettext("came often or spent well, but not for a while"),
    CANT_LOSE: lazy_gettext("were among the best, and have not come for long"),
    HIBERNATING: lazy_gettext("came seldom, and not for a while"),
    LOST: lazy_gettext("came seldom, and not for long"),
}
