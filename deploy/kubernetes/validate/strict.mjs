// Unknown-field check. The models' schemas do not forbid additional properties (the API server drops or, with
// strict field validation, rejects them), so a misspelt field would pass validate(). The model's own compiled
// schema validator reads every property its schema defines and iterates every map it allows; running it on a
// proxy that records those reads shows which fields of the object no schema looked at: those are unknown.
// A free-form object in a schema (one with no properties and no map type) would be reported too: strict, not lax.

export function unknownFields(modelClass, object) {
  const read = new WeakMap();
  const proxies = new WeakMap();
  const wrap = (value) => {
    if (value === null || typeof value !== "object") return value;
    if (!proxies.has(value)) {
      read.set(value, new Set());
      const note = (target, key) => typeof key === "string" && read.get(target).add(key);
      proxies.set(value, new Proxy(value, {
        get: (target, key, receiver) => (note(target, key), wrap(Reflect.get(target, key, receiver))),
        has: (target, key) => (note(target, key), Reflect.has(target, key)),
      }));
    }
    return proxies.get(value);
  };
  // setValidateFunc puts the schema validator on the prototype; called this way it sees the proxy itself.
  modelClass.prototype.validate.call(wrap(object));

  const unknown = [];
  const walk = (value, path) => {
    if (value === null || typeof value !== "object") return;
    if (Array.isArray(value)) return value.forEach((item, i) => walk(item, `${path}/${i}`));
    for (const key of Object.keys(value)) {
      if (read.get(value)?.has(key)) walk(value[key], `${path}/${key}`);
      else unknown.push(`${path}/${key}`);
    }
  };
  walk(object, "");
  return unknown;
}
