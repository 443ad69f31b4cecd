// Models generated from an AsyncAPI document by @asyncapi/modelina, as a user's generator
// would make them:  node generate_models.mjs ASYNCAPI.json
// Prints one JSON line: {"python": [model names], "typescript": [model names]}: the
// models that have code (a generator makes none for a bare number or string in Python).
import { readFileSync } from "node:fs";
import { PythonGenerator, TypeScriptGenerator } from "@asyncapi/modelina";

const [file] = process.argv.slice(2);
const input = JSON.parse(readFileSync(file, "utf8"));
const out = {};
for (const [language, generator] of [
  ["python", new PythonGenerator()],
  ["typescript", new TypeScriptGenerator()],
]) {
  const models = await generator.generate(input);
  out[language] = models.filter((m) => m.result.trim()).map((m) => m.modelName);
}
console.log(JSON.stringify(out));
