"""How much of an input the mapping could structure: ``trialport mapping-report PATH``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from trialport.model import Trial


@dataclass
class Coverage:
    trials: int = 0
    conditions: int = 0
    conditions_coded: int = 0
    conditions_curated: int = 0
    time_frames: int = 0
    time_frame_kinds: Counter = field(default_factory=Counter)
    car_trials: int = 0
    car_trials_with_target: int = 0
    targets: Counter = field(default_factory=Counter)
    car_products: Counter = field(default_factory=Counter)  # INN (or code name) → trials naming it
    car_roles: Counter = field(default_factory=Counter)  # "product", "background", "unknown"
    car_trials_with_product: int = 0

    def add(self, trial: Trial) -> None:
        self.trials += 1
        for condition in trial.conditions:
            self.conditions += 1
            self.conditions_coded += bool(condition.codes)
            self.conditions_curated += any(c.origin == "curated" for c in condition.codes)
        for outcome in trial.outcomes:
            if outcome.time_frame:
                self.time_frames += 1
                self.time_frame_kinds[outcome.time_frame.kind] += 1
        if trial.cell_therapy:
            self.car_trials += 1
            self.car_trials_with_target += bool(trial.cell_therapy.targets)
            self.targets.update(c.display for c in trial.cell_therapy.targets)
            self.car_trials_with_product += bool(trial.cell_therapy.products)
            self.car_products.update(trial.cell_therapy.products)
            self.car_roles[trial.cell_therapy.role or "unknown"] += 1

    @property
    def time_frames_parsed(self) -> int:
        return self.time_frames - self.time_frame_kinds["unparsed"]


def coverage(trials: Iterable[Trial]) -> Coverage:
    result = Coverage()
    for trial in trials:
        result.add(trial)
    return result
