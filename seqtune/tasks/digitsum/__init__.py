"""`digitsum`: remember the first two digits of a long sequence (NNDL memory test).

The package holds all of the task: data and scoring (``_task``), its baselines
(``_baselines``, scikit-learn, imported when the baselines run) and its report
figures and verdict, the memory curve (``_report``, imported by the report).
"""

from seqtune.tasks.digitsum._task import (
    BOOK_LENGTHS,
    BOOK_SRN_LABEL,
    BOOK_SRN_TEST,
    MODES,
    N_CLASSES,
    SELECTED_LOGISTIC,
    DigitSumTask,
    book_data,
    book_lines,
    dense_data,
)

__all__ = ["BOOK_LENGTHS", "BOOK_SRN_LABEL", "BOOK_SRN_TEST", "MODES", "N_CLASSES",
           "SELECTED_LOGISTIC", "DigitSumTask", "book_data", "book_lines", "dense_data"]
