// Validate FHIR resources with FHIR.js, driven by the official HL7 definitions (npm hl7.fhir.r5.core /
// hl7.fhir.r4b.core). FHIR.js reads value-set bindings only when its parser is built with its R4 flag,
// even for R5 definitions, and wants binding canonicals without their "|version" suffix.
// usage: node validate.js R5|R4B file.ndjson... ; prints one JSON line per resource.
const fs = require("fs");
const path = require("path");
const { Fhir, ParseConformance, Versions } = require("fhir");

const version = process.argv[2];
const folder = path.join(__dirname, "node_modules", version === "R5" ? "hl7.fhir.r5.core" : "hl7.fhir.r4b.core");

function stripVersions(value) {
  if (Array.isArray(value)) return value.map(stripVersions);
  if (value && typeof value === "object") {
    const out = {};
    for (const [key, item] of Object.entries(value)) {
      out[key] = key === "valueSet" && typeof item === "string" ? item.split("|")[0] : stripVersions(item);
    }
    return out;
  }
  return value;
}

const entries = [];
for (const name of fs.readdirSync(folder)) {
  if (!/^(CodeSystem|ValueSet|StructureDefinition)-.*\.json$/.test(name)) continue;
  const resource = JSON.parse(fs.readFileSync(path.join(folder, name), "utf8"));
  if (resource.resourceType === "StructureDefinition" && resource.derivation === "constraint") continue;
  entries.push({ resource: stripVersions(resource) });
}
const parser = new ParseConformance(false, Versions.R4);
parser.parseBundle({ resourceType: "Bundle", entry: entries });
const fhir = new Fhir(parser);

for (const file of process.argv.slice(3)) {
  for (const line of fs.readFileSync(file, "utf8").split("\n")) {
    if (!line.trim()) continue;
    const resource = JSON.parse(line);
    const result = fhir.validate(resource, { errorOnUnexpected: true });
    const errors = result.messages.filter((m) => m.severity === "error" || m.severity === "fatal");
    process.stdout.write(JSON.stringify({ id: `${resource.resourceType}/${resource.id}`, valid: errors.length === 0, errors }) + "\n");
  }
}
