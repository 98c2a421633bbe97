"""The label's weight-band dose and kit (pure).

FDA label section 2.1 and 16 (clinical-facts.md 1.2-1.3, 4): dose 1.1e14 vg/kg; nominal concentration
2.0e13 vg/mL, so 5.5 mL/kg; the dose volume is computed at the *upper limit* of the patient's 0.5 kg
band (2.6-21.0 kg); the kit holds 2-14 vials of 5.5 mL and 8.3 mL. The vial split is derived as the
fewest vials whose fill covers the dose volume (reproduces every verified kit row); kit NDC is
71894-(120 + band index)-(vial count).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

from ..quantities import LABEL_MAX_WEIGHT_KG, LABEL_MIN_WEIGHT_KG, weight_band
from ..terminology import ZOLGENSMA_LABELER

DOSE_VG_PER_KG = 1.1e14
CONCENTRATION_VG_PER_ML = 2.0e13
ML_PER_KG = 5.5
VIAL_SMALL_ML = Decimal("5.5")
VIAL_LARGE_ML = Decimal("8.3")
MIN_WEIGHT_KG = LABEL_MIN_WEIGHT_KG
MAX_WEIGHT_KG = LABEL_MAX_WEIGHT_KG

# Bands whose vials-per-kit and NDC were verified against the manufacturer's HCP table
# (clinical-facts.md 1.3); the others (8.6-12.0 and 17.6-21.0 kg) are derived from the pattern.
_VERIFIED_BAND_UPPERS = {3.0, 3.5, 4.0, 4.5, 5.0, 5.5, 6.0, 6.5, 7.0, 7.5, 8.0, 8.5, 12.5, 13.0, 13.5, 14.0,
                         14.5, 15.0, 15.5, 16.0, 16.5, 17.0, 17.5}


@dataclass(frozen=True)
class Kit:
    weight_kg: float
    band_kg: tuple[float, float]
    dose_volume_ml: float
    dose_vg: float
    vials_5_5ml: int
    vials_8_3ml: int
    ndc: str
    ndc_verified: bool

    @property
    def vial_split_verified(self) -> bool:
        """Only the 2.6-3.0 kg kit's split (2 x 8.3 mL) is confirmed (openFDA NDC record, clinical-facts.md
        1.3); every other 5.5/8.3 mL split is derived."""
        return self.band_kg[1] == 3.0

    @property
    def vial_count(self) -> int:
        return self.vials_5_5ml + self.vials_8_3ml

    def as_extension(self) -> dict:
        return {"weightKg": self.weight_kg, "bandKg": list(self.band_kg), "doseVolumeMl": self.dose_volume_ml,
                "doseVg": self.dose_vg, "vials5_5ml": self.vials_5_5ml, "vials8_3ml": self.vials_8_3ml,
                "vialSplitVerified": self.vial_split_verified, "ndc": self.ndc, "ndcVerified": self.ndc_verified}


@lru_cache(maxsize=512)
def kit_for_weight(weight_kg: float) -> Kit | None:
    """The label kit for a weight in kg, or None outside 2.6-21.0 kg (a pure function of the weight)."""
    band = weight_band(weight_kg)
    if band is None:
        return None
    upper = Decimal(str(band[1]))
    volume = (upper * Decimal(str(ML_PER_KG))).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    small, large = _fewest_vials(volume)
    band_index = int((upper - Decimal("3.0")) / Decimal("0.5"))
    count = small + large
    return Kit(
        weight_kg=round(weight_kg, 4),
        band_kg=band,
        dose_volume_ml=float(volume),
        dose_vg=float(upper) * DOSE_VG_PER_KG,
        vials_5_5ml=small,
        vials_8_3ml=large,
        ndc=f"{ZOLGENSMA_LABELER}-{120 + band_index}-{count:02d}",
        ndc_verified=band[1] in _VERIFIED_BAND_UPPERS,
    )


def kit_for_ndc(ndc: str) -> Kit | None:
    """The band a kit NDC belongs to (its product code), using the band's upper limit as weight."""
    parts = ndc.split("-")
    if len(parts) < 2 or parts[0] != ZOLGENSMA_LABELER or not parts[1].isdigit():
        return None
    index = int(parts[1]) - 120
    if not 0 <= index <= 36:
        return None
    return kit_for_weight(3.0 + index * 0.5)


def _fewest_vials(volume: Decimal) -> tuple[int, int]:
    """Fewest vials (then least overfill) whose total fill is at least `volume`."""
    best: tuple[int, Decimal, int, int] | None = None
    for total in range(2, 15):
        for small in range(total + 1):
            large = total - small
            fill = small * VIAL_SMALL_ML + large * VIAL_LARGE_ML
            if fill >= volume and (best is None or (total, fill) < best[:2]):
                best = (total, fill, small, large)
        if best is not None:
            return best[2], best[3]
    raise ValueError(f"no kit covers {volume} mL")
