"""How the admin prints money: enough digits to tell small calls apart, never ten decimals."""

from decimal import ROUND_HALF_UP, Decimal

_MICRO = Decimal("0.000001")


def usd(value: Decimal | None) -> str:
    """Dollars to at most 6 decimals (a millionth of a dollar tells calls apart), trailing
    zeros dropped down to cents: 2.0000000001 -> "2.00", 0.0012345678 -> "0.001235"."""
    if value is None:
        return "-"
    text = format(Decimal(value).quantize(_MICRO, rounding=ROUND_HALF_UP), "f")
    whole, _, fraction = text.partition(".")
    fraction = fraction.rstrip("0").ljust(2, "0")
    return f"{whole}.{fraction}"
