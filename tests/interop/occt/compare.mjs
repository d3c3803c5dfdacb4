// Loads STEP files with occt-import-js (OpenCascade compiled to wasm) and prints, per file, one
// JSON line: triangle count, bounding box, surface area (summed over its triangles), number of
// meshes and their names. veilmark-cad's STEP loader is compared with these figures by
// `cargo test -p veilmark-cad --test cad -- step_occt::` (see docs/cad.md).
//
//     npm ci --prefix tests/interop/occt
//     node tests/interop/occt/compare.mjs tests/fixtures/cad/*.step
//
// The tessellation asks for the same tolerance as veilmark-cad: a chord of 1/1000 of the
// bounding-box diagonal and a 20° angular limit.

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { basename } from "node:path";

const require = createRequire(import.meta.url);
const occtimportjs = require("occt-import-js");

const params = {
  linearUnit: "millimeter",
  linearDeflectionType: "bounding_box_ratio",
  linearDeflection: 0.001,
  angularDeflection: (20 * Math.PI) / 180,
};

function stats(result) {
  let triangles = 0;
  let area = 0;
  const min = [Infinity, Infinity, Infinity];
  const max = [-Infinity, -Infinity, -Infinity];
  for (const mesh of result.meshes) {
    const p = mesh.attributes.position.array;
    const idx = mesh.index.array;
    for (let t = 0; t + 2 < idx.length; t += 3) {
      const [a, b, c] = [idx[t] * 3, idx[t + 1] * 3, idx[t + 2] * 3];
      const u = [p[b] - p[a], p[b + 1] - p[a + 1], p[b + 2] - p[a + 2]];
      const v = [p[c] - p[a], p[c + 1] - p[a + 1], p[c + 2] - p[a + 2]];
      const n = [u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0]];
      area += 0.5 * Math.hypot(n[0], n[1], n[2]);
      triangles += 1;
      for (const i of [a, b, c]) {
        for (let k = 0; k < 3; k++) {
          min[k] = Math.min(min[k], p[i + k]);
          max[k] = Math.max(max[k], p[i + k]);
        }
      }
    }
  }
  return { triangles, area, bbox: [min, max] };
}

const occt = await occtimportjs();
for (const path of process.argv.slice(2)) {
  const started = performance.now();
  const result = occt.ReadStepFile(new Uint8Array(readFileSync(path)), params);
  const ms = performance.now() - started;
  if (!result.success) {
    console.log(JSON.stringify({ file: basename(path), error: "occt-import-js could not read it" }));
    continue;
  }
  console.log(
    JSON.stringify({
      file: basename(path),
      ...stats(result),
      meshes: result.meshes.length,
      names: result.meshes.map((m) => m.name),
      ms: Math.round(ms),
    }),
  );
}
