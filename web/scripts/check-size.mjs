// Fails the build when the JavaScript the first page loads is over the budget (gzip).
// What the first page loads: the entry chunk of index.html and every chunk it imports
// statically (dynamic imports load later and are not counted), read from Vite's manifest.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

const BUDGET_BYTES = 200 * 1024;
// The build to measure: web/dist, or the folder given as the first argument.
const dist = process.argv[2] ?? new URL("../dist/", import.meta.url).pathname;
const manifest = JSON.parse(readFileSync(join(dist, ".vite", "manifest.json"), "utf8"));

const entry = Object.keys(manifest).find((key) => manifest[key].isEntry);
if (!entry) {
  console.error("check-size: no entry chunk in dist/.vite/manifest.json");
  process.exit(1);
}

const files = new Set();
const visit = (key) => {
  const chunk = manifest[key];
  if (!chunk || files.has(chunk.file)) return;
  files.add(chunk.file);
  for (const imported of chunk.imports ?? []) visit(imported);
};
visit(entry);

let total = 0;
for (const file of files) {
  const size = gzipSync(readFileSync(join(dist, file)), { level: 9 }).length;
  total += size;
  console.log(`  ${file}: ${(size / 1024).toFixed(1)} KB gzip`);
}
const verdict = total <= BUDGET_BYTES ? "within" : "OVER";
console.log(
  `first-load JavaScript: ${(total / 1024).toFixed(1)} KB gzip, ${verdict} the ` +
    `${BUDGET_BYTES / 1024} KB budget`,
);
if (total > BUDGET_BYTES) process.exit(1);
