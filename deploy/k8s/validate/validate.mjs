// Validates Kubernetes manifests offline, two ways, both from the
// kubernetes-models package (generated from Kubernetes' OpenAPI schema):
//
// 1. The schema: each object goes through its model's validate() (types,
//    required fields, enums, formats such as int32 or quantities).
// 2. Unknown fields: the schema validators let unknown properties through,
//    so each object is also type-checked by TypeScript as an object literal of
//    the model's interface, where a misspelled or misplaced field is an error
//    ("Object literal may only specify known properties"), as are wrong types.
//
//   node validate.mjs FILE.yaml...      (exit status 1 on any error)
//
// Run through ../validate.sh, which installs the packages.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { parseAllDocuments } from "yaml";

const here = dirname(fileURLToPath(import.meta.url));

// apiVersion "v1" -> kubernetes-models/v1/Kind; "apps/v1" -> .../apps/v1/Kind.
function modelPath(apiVersion, kind) {
  return `kubernetes-models/${apiVersion}/${kind}`;
}

const objects = [];  // {where, apiVersion, kind, data}
let errors = 0;
function fail(where, message) {
  console.error(`${where}: ${message}`);
  ++errors;
}

for (const file of process.argv.slice(2)) {
  const documents = parseAllDocuments(readFileSync(file, "utf8"), { uniqueKeys: true });
  documents.forEach((document, index) => {
    const where = `${relative(process.cwd(), file) || file} document ${index + 1}`;
    for (const e of [...document.errors, ...document.warnings]) fail(where, e.message);
    const data = document.toJS();
    if (data === null || data === undefined) return;  // An empty document.
    if (typeof data !== "object" || Array.isArray(data)) {
      return fail(where, "not a Kubernetes object");
    }
    const { apiVersion, kind } = data;
    if (typeof apiVersion !== "string" || typeof kind !== "string") {
      return fail(where, "apiVersion and kind must be strings");
    }
    const name = data.metadata?.name ?? "(no name)";
    objects.push({ where: `${where} (${kind} ${name})`, apiVersion, kind, data });
  });
}

// 1. The schema.
for (const object of objects) {
  let Model;
  try {
    Model = (await import(modelPath(object.apiVersion, object.kind)))[object.kind];
  } catch {
    fail(object.where, `unknown apiVersion/kind ${object.apiVersion} ${object.kind}`);
    object.unknown = true;
    continue;
  }
  try {
    new Model(object.data).validate();
  } catch (e) {
    fail(object.where, `schema: ${e.message}`);
  }
}

// 2. Unknown fields and types, by TypeScript. One generated module: each
// object is `export const oN: IKind = {...}`, one property a line, so that a
// diagnostic's line names the offending field.
const work = mkdtempSync(join(tmpdir(), "k8s-validate-"));
try {
  const lines = [];
  const starts = [];  // [first line, object] per object
  objects.forEach((object, n) => {
    if (object.unknown) return;
    lines.push(`import type { I${object.kind} as T${n} } from "${modelPath(object.apiVersion, object.kind)}";`);
  });
  objects.forEach((object, n) => {
    if (object.unknown) return;
    starts.push([lines.length, object]);
    lines.push(...`export const o${n}: T${n} = ${JSON.stringify(object.data, null, 2)};`.split("\n"));
  });
  const source = join(work, "manifests.ts");
  writeFileSync(source, lines.join("\n") + "\n");
  const program = ts.createProgram([source], {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    module: ts.ModuleKind.CommonJS,
    moduleResolution: ts.ModuleResolutionKind.Node10,
    target: ts.ScriptTarget.ES2020,
    typeRoots: [],
    types: [],
    baseUrl: here,
    paths: { "*": [join(here, "node_modules", "*")] },
  });
  for (const d of ts.getPreEmitDiagnostics(program)) {
    const message = ts.flattenDiagnosticMessageText(d.messageText, "\n  ");
    if (!d.file || d.file.fileName !== source) {
      fail("typescript", message);
      continue;
    }
    const { line } = d.file.getLineAndCharacterOfPosition(d.start);
    const owner = starts.filter(([first]) => first <= line).pop();
    fail(owner ? owner[1].where : source,
         `fields: line "${lines[line].trim()}": ${message}`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

if (errors > 0) {
  console.error(`${errors} error(s) in ${objects.length} object(s)`);
  process.exit(1);
}
console.log(`${objects.length} object(s) valid: ${objects.map((o) => o.where).join("; ")}`);
