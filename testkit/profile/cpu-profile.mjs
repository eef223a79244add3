// Records a V8 CPU profile of the worker behind a `wrangler dev` inspector port.
//
//   node testkit/profile/cpu-profile.mjs INSPECTOR_PORT OUT.cpuprofile
//
// Starts the profiler at once, stops it when stdin closes (or after 10 minutes), writes the
// profile (loadable in Chrome DevTools) and prints the functions with the most self time.
// Uses the `ws` package that wrangler installs (run with NODE_PATH=<repo>/node_modules).
import { createRequire } from "node:module";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

const require = createRequire(path.join(process.env.NODE_PATH || process.cwd(), "noop.js"));
const WebSocket = require("ws");

const [port, out] = process.argv.slice(2);
if (port === "--summarize") {
  summarize(JSON.parse(readFileSync(out, "utf8")));
  process.exit(0);
}
if (!port || !out) {
  console.error("usage: cpu-profile.mjs INSPECTOR_PORT OUT.cpuprofile");
  process.exit(2);
}

const list = await (await fetch(`http://127.0.0.1:${port}/json`)).json();
const ws = new WebSocket(list[0].webSocketDebuggerUrl);
let next = 1;
const pending = new Map();
const call = (method, params = {}) =>
  new Promise((resolve, reject) => {
    const id = next++;
    pending.set(id, { resolve, reject });
    ws.send(JSON.stringify({ id, method, params }));
  });
ws.on("message", (data) => {
  const msg = JSON.parse(data.toString());
  if (msg.id && pending.has(msg.id)) {
    const p = pending.get(msg.id);
    pending.delete(msg.id);
    msg.error ? p.reject(new Error(JSON.stringify(msg.error))) : p.resolve(msg.result);
  }
});
await new Promise((resolve, reject) => {
  ws.once("open", resolve);
  ws.once("error", reject);
});
await call("Profiler.enable");
await call("Profiler.setSamplingInterval", { interval: 200 });
await call("Profiler.start");
console.error(`profiler attached to inspector port ${port}`);

let stopped = false;
const stop = async () => {
  if (stopped) return;
  stopped = true;
  const { profile } = await call("Profiler.stop");
  writeFileSync(out, JSON.stringify(profile));
  summarize(profile);
  ws.close();
  process.exit(0);
};
process.stdin.on("end", stop);
process.stdin.on("close", stop);
process.stdin.resume();
setTimeout(stop, 600_000);

function summarize(profile) {
  // Self time per function: each sample gets the time until the next sample, but at most
  // twice the median sampling interval; longer gaps are time the thread did not run
  // (workerd does not mark its idle time, so V8 records no sample while it waits).
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const deltas = profile.timeDeltas.slice(1).concat([0]);
  const sorted = [...deltas].sort((a, b) => a - b);
  const cap = 2 * (sorted[Math.floor(sorted.length / 2)] || 0);
  const self = new Map();
  let busy = 0;
  let idle = 0;
  profile.samples.forEach((id, i) => {
    const raw = deltas[i] / 1e6;
    const dt = Math.min(deltas[i], cap) / 1e6;
    idle += raw - dt;
    const f = byId.get(id).callFrame;
    let name = f.functionName || `(anonymous ${f.url}:${f.lineNumber})`;
    if (!f.functionName && f.url === "index.js") name = "(JS glue: wasm-bindgen closures in index.js)";
    if (name === "(idle)" || name === "(program)") {
      idle += dt;
      return;
    }
    self.set(name, (self.get(name) || 0) + dt);
    busy += dt;
  });
  const rows = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, 40);
  const span = (profile.endTime - profile.startTime) / 1e6;
  const lines = [
    `${out}: ${span.toFixed(2)} s profiled, ${busy.toFixed(2)} s running JS/wasm, ${idle.toFixed(2)} s idle (sampling interval median ${(cap / 2).toFixed(0)} µs); self time:`,
  ];
  for (const [name, t] of rows) {
    lines.push(`${((100 * t) / busy).toFixed(1).padStart(5)}%  ${t.toFixed(3).padStart(7)} s  ${name}`);
  }
  writeFileSync(out.replace(/\.cpuprofile$/, "") + ".top.txt", lines.join("\n") + "\n");
  console.error(lines.slice(0, 25).join("\n"));
}

// `node cpu-profile.mjs --summarize FILE.cpuprofile` re-summarizes a saved profile.
