"""`forecast`: one-step-ahead forecasting of a column of any CSV.

The package holds all of the task: reading and checking the CSV and its
dates (``_data``), the task itself (``_task``), its baselines (``_baselines``,
statsmodels and scikit-learn, imported when the baselines run), its report
figures (``_report``) and ``seqtune predict``'s input (``_predict``).
``rainfall`` is its preset with the post's columns.
"""

from seqtune.tasks.forecast._data import (
    format_date,
    infer_frequency,
    read_csv_dated,
    read_csv_series,
    season_of,
    step_words,
)
from seqtune.tasks.forecast._task import ForecastTask, Series

__all__ = ["ForecastTask", "Series", "format_date", "infer_frequency", "read_csv_dated",
           "read_csv_series", "season_of", "step_words"]
