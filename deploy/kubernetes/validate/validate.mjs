// Renders each kustomization directory given and validates every object against the Kubernetes OpenAPI schemas
// (kubernetes-models) and the Prometheus Operator's CRD schemas: unknown kinds, schema violations and unknown
// fields fail. Usage: node validate.mjs [--out FILE] DIR... ; --out writes the rendered objects as JSON.
import { writeFileSync } from "node:fs";
import { render } from "./render.mjs";
import { unknownFields } from "./strict.mjs";

// Where the model classes of an API group live; core "v1" is kubernetes-models/v1.
const PACKAGES = ["kubernetes-models", "@kubernetes-models/prometheus-operator"];

async function modelFor(apiVersion, kind) {
  if (typeof apiVersion !== "string" || typeof kind !== "string" || !/^[A-Za-z0-9./-]+$/.test(apiVersion) || apiVersion.includes("..")) return null;
  for (const pkg of PACKAGES) {
    let module;
    try {
      module = await import(`${pkg}/${apiVersion}`);
    } catch (error) {
      if (error.code === "ERR_PACKAGE_PATH_NOT_EXPORTED" || error.code === "ERR_MODULE_NOT_FOUND") continue;
      throw error;
    }
    const model = module[kind];
    if (model?.apiVersion === apiVersion && model?.kind === kind) return model;
  }
  return null;
}

async function check(object) {
  const model = await modelFor(object?.apiVersion, object?.kind);
  if (!model) return [`unknown kind ${object?.apiVersion}/${object?.kind}`];
  try {
    new model(object).validate();
  } catch (error) {
    return [error.message];
  }
  return unknownFields(model, object).map((path) => `unknown field ${path}`);
}

const args = process.argv.slice(2);
let out;
if (args[0] === "--out") [, out] = args.splice(0, 2);
if (args.length === 0) {
  console.error("usage: node validate.mjs [--out FILE] DIR...");
  process.exit(2);
}

let failures = 0;
const rendered = {};
for (const directory of args) {
  let objects;
  try {
    objects = render(directory);
  } catch (error) {
    console.error(`FAIL ${directory}\n  ${error.message}`);
    failures++;
    continue;
  }
  if (objects.length === 0) {
    console.error(`FAIL ${directory}: renders no object`);
    failures++;
  }
  rendered[directory] = objects;
  for (const object of objects) {
    const name = `${directory}: ${object?.kind ?? "?"} ${object?.metadata?.name ?? "?"}`;
    const problems = await check(object);
    failures += problems.length > 0 ? 1 : 0;
    console.log(problems.length > 0 ? `FAIL ${name}\n  ${problems.join("\n  ")}` : `ok   ${name}`);
  }
}
if (out) writeFileSync(out, JSON.stringify(rendered, null, 2));
console.log(failures === 0 ? "all objects valid" : `${failures} failure(s)`);
process.exit(failures === 0 ? 0 : 1);
