"""trialport: clinical-trial registry records to FHIR, Excel endpoint workbooks and CDISC TS."""

__version__ = "0.1.0"

from trialport.model import Trial
from trialport.pipeline import Record, convert, read, trials
from trialport.readers.base import Rejection, Skipped

__all__ = ["Record", "Rejection", "Skipped", "Trial", "__version__", "convert", "read", "trials"]
