// The mCODE converter (clinical-trial-matching-service) over a JSON Lines file of ClinicalTrials.gov
// API v2 studies: one FHIR R4 ResearchStudy (its Locations, Group and PlanDefinitions contained) per line
// of NDJSON out. Streams line by line. Prints, as one JSON object, what benchmarks/run.py reads:
// records, seconds (reading, converting and writing; the require is untimed), records/s, peak RSS.
//
//     node benchmarks/mcode/convert.js studies.jsonl ResearchStudy.ndjson
'use strict';

const fs = require('fs');
const readline = require('readline');
const { createResearchStudyFromClinicalStudy } = require('clinical-trial-matching-service');

const FLUSH_BYTES = 1 << 20; // write in chunks of about a megabyte, not once a record

async function main(input, output) {
  const start = process.hrtime.bigint();
  const out = fs.createWriteStream(output);
  const lines = readline.createInterface({ input: fs.createReadStream(input), crlfDelay: Infinity });
  let records = 0;
  let number = 0;
  let chunk = [];
  let size = 0;
  for await (const line of lines) {
    number += 1;
    if (!line.trim()) continue;
    let study;
    try {
      study = JSON.parse(line);
    } catch (error) {
      throw new Error(`${input}, line ${number}: not a JSON study (${error.message})`);
    }
    const text = JSON.stringify(createResearchStudyFromClinicalStudy(study));
    chunk.push(text);
    size += text.length + 1;
    records += 1;
    if (size >= FLUSH_BYTES) {
      if (!out.write(chunk.join('\n') + '\n')) await new Promise((resolve) => out.once('drain', resolve));
      chunk = [];
      size = 0;
    }
  }
  if (chunk.length) out.write(chunk.join('\n') + '\n');
  await new Promise((resolve, reject) => out.end((error) => (error ? reject(error) : resolve())));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const peakRssMb = process.resourceUsage().maxRSS / 1024;
  return { records, seconds, records_per_s: records / seconds, peak_rss_mb: peakRssMb };
}

if (process.argv.length !== 4) {
  process.stderr.write('usage: node convert.js STUDIES.jsonl OUT.ndjson\n');
  process.exit(2);
}
main(process.argv[2], process.argv[3]).then(
  (result) => process.stdout.write(JSON.stringify(result) + '\n'),
  (error) => {
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }
);
