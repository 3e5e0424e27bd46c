"""`rainfall`: the forecast task preset to the "RNN loop" post.

The post's columns are the defaults (target ``Precipitation``; its humidity
and temperature columns can be ``exogenous``), and without a CSV the series
is statsmodels' bundled ``elnino`` (61 years x 12 months of sea-surface
temperature, read row by row into one chronological series), so it runs
offline. A series without dates is monthly (season 12). Everything else is
:class:`~seqtune.tasks.forecast.ForecastTask`'s.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from seqtune.errors import SeqtuneError
from seqtune.tasks.forecast import ForecastTask, Series

#: the post's columns: the target and its exogenous inputs
TARGET = "Precipitation"
EXOGENOUS = ("Specific Humidity", "Relative Humidity", "Temperature")
#: observations per seasonal cycle without a date column or ``season`` (monthly)
DEFAULT_SEASON = 12


def elnino_series() -> np.ndarray:
    """The 732 monthly values of statsmodels' ``elnino``, oldest first."""
    from statsmodels.datasets import elnino

    wide = elnino.load_pandas().data.sort_values("YEAR")
    return wide.drop(columns="YEAR").to_numpy(dtype=np.float64).ravel()


class RainfallTask(ForecastTask):
    name: ClassVar[str] = "rainfall"
    default_season: ClassVar[int | None] = DEFAULT_SEASON

    def __init__(self, csv: str | None = None, target: str = TARGET,
                 exogenous: list[str] | None = None, test_size: int = 50,
                 val_size: int = 50, max_window: int = 36, time: str | None = None,
                 season: int | None = None) -> None:
        super().__init__(csv, target, exogenous, test_size, val_size, max_window, time, season)

    def _read(self) -> Series:
        if self.csv:
            return super()._read()
        if self.exogenous:
            raise SeqtuneError("task.exogenous: needs task.csv (the bundled series has none)")
        if self.time is not None:
            raise SeqtuneError("task.time: the name of the CSV's date column; needs task.csv "
                               f"(the bundled series is monthly), got {self.time!r}")
        return elnino_series()[:, None], None, None

    def described(self) -> dict[str, Any]:
        """The config without the CSV columns when the series is the bundled
        elnino (whose config carries the unused default column name)."""
        if self.csv:
            return self.config()
        return {"series": "elnino (statsmodels)",
                **{k: v for k, v in self.config().items()
                   if k not in ("csv", "target", "exogenous")}}

    @property
    def source(self) -> str:
        return str(self.csv) if self.csv else "elnino"

    @property
    def series_name(self) -> str:
        return super().series_name if self.csv else "elnino"

    @property
    def series_label(self) -> str:
        """The CSV's target column, or ``elnino`` for the bundled series (whose
        config still carries the unused default column name ``Precipitation``)."""
        return self.target if self.csv else "elnino"

    @property
    def index_label(self) -> str:
        """Months for the post's (monthly) series without dates."""
        return "month index" if self.season_length == 12 else "index"

    @property
    def series_words(self) -> str:
        if self.csv:
            return super().series_words
        return ("elnino, statsmodels' bundled monthly El Nino sea-surface temperatures "
                "(degrees C)")


__all__ = ["DEFAULT_SEASON", "EXOGENOUS", "TARGET", "RainfallTask", "elnino_series"]
