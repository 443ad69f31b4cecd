// Models generated from an AsyncAPI document by @asyncapi/modelina, as a user's generator
// would make them:  node generate_models.mjs ASYNCAPI.json
// Prints one JSON line: {"python": [model names], "typescript": [model names],
// "fields": {"python": {model: [property names]}, "typescript": {...}}}: the models that
// have code (a generator makes none for a bare number or string in Python), and the
// properties of each object model.
import { readFileSync } from "node:fs";
import { PythonGenerator, TypeScriptGenerator } from "@asyncapi/modelina";

const [file] = process.argv.slice(2);
const input = JSON.parse(readFileSync(file, "utf8"));
const out = { fields: {} };
for (const [language, generator] of [
  ["python", new PythonGenerator()],
  ["typescript", new TypeScriptGenerator()],
]) {
  const models = (await generator.generate(input)).filter((m) => m.result.trim());
  out[language] = models.map((m) => m.modelName);
  out.fields[language] = Object.fromEntries(
    models.map((m) => [
      m.modelName,
      Object.values(m.model.properties || {}).map((p) => p.unconstrainedPropertyName),
    ]),
  );
}
console.log(JSON.stringify(out));
