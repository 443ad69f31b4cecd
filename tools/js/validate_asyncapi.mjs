// Validate AsyncAPI documents with the official parser: node validate_asyncapi.mjs FILE...
// Prints every diagnostic as a JSON line; exits 1 if any document has an error.
import { readFileSync } from "node:fs";
import { Parser } from "@asyncapi/parser";

const SEVERITY = ["error", "warning", "information", "hint"];
const parser = new Parser();
let failed = 0;
for (const file of process.argv.slice(2)) {
  const { document, diagnostics } = await parser.parse(readFileSync(file, "utf8"));
  for (const d of diagnostics) {
    console.log(JSON.stringify({
      file, severity: SEVERITY[d.severity] ?? d.severity, code: d.code,
      message: d.message, path: d.path.join("/"),
    }));
  }
  if (!document || diagnostics.some((d) => d.severity === 0)) failed += 1;
}
process.exit(failed ? 1 : 0);
