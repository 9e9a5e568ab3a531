"""Advertising ratios per ASIN and the recommendations when sales lean too much on ads (pure).

- ad-order ratio = ad-attributed orders / all orders of the ASIN in the period
- ACoS = ad spend / ad-attributed sales; TACoS = ad spend / total sales of the ASIN
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

PLACES = Decimal("0.0001")


@dataclass(frozen=True)
class AdFigures:
    attributed_orders: int
    total_orders: int
    spend: Decimal
    attributed_sales: Decimal
    total_sales: Decimal

    @property
    def ad_order_ratio(self) -> Decimal | None:
        return _ratio(Decimal(self.attributed_orders), Decimal(self.total_orders))

    @property
    def acos(self) -> Decimal | None:
        return _ratio(self.spend, self.attributed_sales)

    @property
    def tacos(self) -> Decimal | None:
        return _ratio(self.spend, self.total_sales)

    @property
    def organic_orders(self) -> int:
        return max(self.total_orders - self.attributed_orders, 0)


def _ratio(numerator: Decimal, denominator: Decimal) -> Decimal | None:
    if denominator <= 0:
        return None
    return (numerator / denominator).quantize(PLACES, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Recommendation:
    code: str
    title: str
    detail: str
    evidence: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "title": self.title,
            "detail": self.detail,
            "evidence": self.evidence,
        }


def too_dependent_on_ads(figures: AdFigures, threshold: Decimal) -> bool:
    ratio = figures.ad_order_ratio
    return ratio is not None and ratio > threshold


def recommend(figures: AdFigures, threshold: Decimal) -> list[Recommendation]:
    """Structured advice when the ad-order ratio is above ``threshold``; none otherwise."""
    if not too_dependent_on_ads(figures, threshold):
        return []
    evidence = {
        "ad_order_ratio": str(figures.ad_order_ratio),
        "threshold": str(threshold),
        "attributed_orders": figures.attributed_orders,
        "total_orders": figures.total_orders,
        "organic_orders": figures.organic_orders,
        "spend": str(figures.spend),
        "acos": _text(figures.acos),
        "tacos": _text(figures.tacos),
    }
    return [
        Recommendation(
            "shift_ad_spend",
            "Shift ad spend",
            "Most orders come through ads. Move budget from broad, high-ACoS campaigns to exact "
            "match terms that convert, and cap bids where ACoS is above your margin.",
            evidence,
        ),
        Recommendation(
            "drive_non_ad_traffic",
            "Drive non-ad traffic with promotions and deals",
            "Run coupons, Lightning Deals or Prime-exclusive discounts so buyers find the listing "
            "without an ad click; organic sales then carry more of the volume.",
            evidence,
        ),
        Recommendation(
            "improve_listing_keywords",
            "Improve listing keywords for organic rank",
            "Add the search terms your ads convert on to the title, bullets and backend keywords, "
            "so the listing ranks for them organically.",
            evidence,
        ),
    ]


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)
