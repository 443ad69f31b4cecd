// Foxglove's published JSON Schemas of its well-known message types (@foxglove/schemas),
// for tests to validate messages against:  node foxglove_schemas.mjs PoseInFrame Log ...
// Prints one JSON line: {"foxglove.PoseInFrame": schema, ...}.
import schemas from "@foxglove/schemas/jsonschema.js";

const out = {};
for (const name of process.argv.slice(2)) {
  const schema = schemas[name];
  if (!schema) {
    console.error(`no Foxglove schema named ${name}`);
    process.exit(1);
  }
  out[schema.title] = schema;
}
console.log(JSON.stringify(out));
