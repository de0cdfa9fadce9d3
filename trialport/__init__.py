"""trialport: clinical-trial registry records to FHIR, Excel endpoint workbooks and CDISC TS."""

__version__ = "0.1.0"

from trialport.model import Trial
from trialport.parallel import Converted
from trialport.pipeline import Record, convert, read, trials
from trialport.readers.base import Rejection, Skipped
from trialport.record import RecordError, convert_record

__all__ = [
    "Converted",
    "Record",
    "RecordError",
    "Rejection",
    "Skipped",
    "Trial",
    "__version__",
    "convert",
    "convert_record",
    "read",
    "trials",
]
