"""Using trialport from Python: read records, look at them, convert them.

Run from the repository root: ``.venv/bin/python examples/api.py``.
"""

import trialport

# Every record under a folder; a Rejection (or Skipped) says which file, which record, and why.
for record in trialport.read(["seeds"]):
    if isinstance(record.result, trialport.Rejection):
        print(f"{record.result.status}: {record.result}")
        continue
    trial = record.result
    primary = [o for o in trial.outcomes if o.kind == "primary"]
    print(f"{trial.id}  {trial.title[:60]}  ({len(primary)} primary)")
    for outcome in primary:
        print(f"    {outcome.measure[:70]}  [{outcome.time_frame.text if outcome.time_frame else '-'}]")

# The same as `trialport convert seeds --to json --out out/api-example`.
report = trialport.convert(["seeds"], "out/api-example", formats=["json"])
print(report.totals())
