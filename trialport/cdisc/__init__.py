"""CDISC SDTM Trial Summary (TS): the rows a trial gives, XPT v5 and CSV files, Define-XML 2.1, TS checks."""
