"""Red / amber / green: a value against an indicator's thresholds (the numbers live in YAML, never here)."""

from __future__ import annotations

import math
from dataclasses import dataclass

DIRECTIONS = ("higher_is_better", "lower_is_better")
GREEN, AMBER, RED = "green", "amber", "red"


@dataclass(frozen=True)
class Thresholds:
    """``green``: the value at or beyond which (in the good ``direction``) an indicator is green; ``amber``: at or
    beyond which it is at least amber; anything worse is red. No value (no data) is red."""

    direction: str
    green: float
    amber: float

    def __post_init__(self):
        if self.direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}, got {self.direction!r}")
        for name in ("green", "amber"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number, got {value!r}")
        if self.direction == "higher_is_better" and self.green < self.amber:
            raise ValueError(f"higher_is_better needs green >= amber, got green {self.green} < amber {self.amber}")
        if self.direction == "lower_is_better" and self.green > self.amber:
            raise ValueError(f"lower_is_better needs green <= amber, got green {self.green} > amber {self.amber}")

    def status(self, value: float | None) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return RED
        better = (lambda a, b: a >= b) if self.direction == "higher_is_better" else (lambda a, b: a <= b)
        if better(value, self.green):
            return GREEN
        return AMBER if better(value, self.amber) else RED
