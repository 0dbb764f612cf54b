// Renders a kustomization the way `kubectl apply -k` would, for the subset of kustomize these manifests use:
// `resources` (YAML files and directories with a kustomization.yaml) and `patches` that are JSON patches
// (RFC 6902) with a target. Anything else is an error rather than a silent approximation.
import { readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import jsonpatch from "fast-json-patch";
import YAML from "yaml";

const KNOWN_KEYS = new Set(["apiVersion", "kind", "resources", "patches"]);
const TARGET_KEYS = new Set(["group", "version", "kind", "name", "namespace"]);

/** Every YAML document of a file, as plain objects; empty documents are skipped, as kustomize does. */
export function readYaml(file) {
  const text = readFileSync(file, "utf8");
  return YAML.parseAllDocuments(text, { uniqueKeys: true, prettyErrors: true }).flatMap((doc) => {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join("; ")}`);
    const value = doc.toJS();
    return value === null || value === undefined ? [] : [value];
  });
}

function groupVersion(object) {
  const apiVersion = String(object.apiVersion ?? "");
  const slash = apiVersion.indexOf("/");
  return slash < 0 ? { group: "", version: apiVersion } : { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) };
}

function id(object) {
  const { group, version } = groupVersion(object);
  return `${group}/${version}/${object.kind}/${object.metadata?.namespace ?? ""}/${object.metadata?.name}`;
}

function matches(target, object) {
  const { group, version } = groupVersion(object);
  const actual = { group, version, kind: object.kind, name: object.metadata?.name, namespace: object.metadata?.namespace ?? "" };
  return Object.entries(target).every(([key, value]) => actual[key] === value);
}

function applyPatch(directory, patch, objects) {
  const where = `${directory}: patch ${patch.path ?? "(inline)"}`;
  const extra = Object.keys(patch).filter((k) => !["path", "patch", "target"].includes(k));
  if (extra.length > 0) throw new Error(`${where}: unsupported keys ${extra.join(", ")}`);
  if ((patch.path === undefined) === (patch.patch === undefined)) throw new Error(`${where}: give exactly one of path and patch`);
  const target = patch.target;
  if (!target || typeof target !== "object" || !target.kind || !target.name) throw new Error(`${where}: needs a target with kind and name`);
  const unknownTarget = Object.keys(target).filter((k) => !TARGET_KEYS.has(k));
  if (unknownTarget.length > 0) throw new Error(`${where}: unsupported target keys ${unknownTarget.join(", ")}`);
  const operations = patch.path !== undefined ? readYaml(join(directory, patch.path)) : [YAML.parse(patch.patch)];
  if (operations.length !== 1 || !Array.isArray(operations[0])) {
    throw new Error(`${where}: only JSON patches (a YAML list of operations) are supported, not strategic merge patches`);
  }
  let hits = 0;
  const result = objects.map((object) => {
    if (!matches(target, object)) return object;
    hits++;
    try {
      return jsonpatch.applyPatch(object, operations[0], true, false).newDocument;
    } catch (error) {
      throw new Error(`${where} on ${id(object)}: ${error.message.split("\n")[0]}`);
    }
  });
  // kustomize ignores a target that matches nothing; here it is an error, so a renamed resource is noticed.
  if (hits === 0) throw new Error(`${where}: target ${JSON.stringify(target)} matches no resource`);
  return result;
}

/** The objects a kustomization directory renders to. */
export function render(directory) {
  directory = resolve(directory);
  const [kustomization, ...rest] = readYaml(join(directory, "kustomization.yaml"));
  if (rest.length > 0 || !kustomization) throw new Error(`${directory}: kustomization.yaml must hold one document`);
  if (kustomization.apiVersion !== "kustomize.config.k8s.io/v1beta1" || kustomization.kind !== "Kustomization") {
    throw new Error(`${directory}: not a kustomize.config.k8s.io/v1beta1 Kustomization`);
  }
  const unsupported = Object.keys(kustomization).filter((k) => !KNOWN_KEYS.has(k));
  if (unsupported.length > 0) throw new Error(`${directory}: kustomization fields not supported by this renderer: ${unsupported.join(", ")}`);

  let objects = [];
  for (const entry of kustomization.resources ?? []) {
    const path = join(directory, entry);
    const loaded = statSync(path).isDirectory() ? render(path) : readYaml(path);
    for (const object of loaded) {
      if (objects.some((o) => id(o) === id(object))) throw new Error(`${directory}: ${id(object)} is defined twice`);
      objects.push(object);
    }
  }
  for (const patch of kustomization.patches ?? []) objects = applyPatch(directory, patch, objects);
  return objects;
}

