#!/usr/bin/env node
// Renders HTML in headless Chromium (scripting off, every request intercepted and
// answered locally) and prints, per HTML, the URLs Chromium requested.
//
// Input: JSON Lines on stdin or in the files given, each either
//   {"id": "...", "html": "..."}                       one HTML
//   {"source": "...", "parts": ["<html>", ...]}        `bulwark html` output; ids SOURCE#partN
// Output: JSON Lines {"id": "...", "requests": ["url", ...]} in input order
//   (--details adds per-profile lists, blocked requests, errors and timings).
//
// Usage: node render.mjs [--profiles all|quick|a,b] [--concurrency 3] [--details]
//                        [--settle-ms 40] [--max-wait-ms 1500] [--fresh-context]
//                        [--reload] [--no-self-check] [FILE...]

import { readFileSync } from 'node:fs';
import { Renderer, RENDER_OPTIONS, rendererOptions, parseArgs, parseJsonLines, runSelfChecks } from './lib.mjs';

function toItems(objs) {
  const items = [];
  for (const o of objs) {
    if (typeof o.html === 'string') items.push({ id: String(o.id ?? items.length), html: o.html });
    else if (Array.isArray(o.parts)) o.parts.forEach((h, n) => items.push({ id: `${o.source}#part${n + 1}`, html: String(h) }));
    else throw new Error(`input object has neither "html" nor "parts": ${JSON.stringify(o).slice(0, 200)}`);
  }
  return items;
}

async function main() {
  const a = parseArgs(process.argv.slice(2), { ...RENDER_OPTIONS, details: { type: 'bool', default: false }, help: { type: 'bool', default: false } });
  if (a.help) {
    process.stdout.write(readFileSync(new URL(import.meta.url)).toString().split('\n').filter((l) => l.startsWith('//')).map((l) => l.slice(3)).join('\n') + '\n');
    return 0;
  }
  const text = a._.length ? a._.map((f) => readFileSync(f, 'utf8')).join('\n') : readFileSync(0, 'utf8');
  const items = toItems(parseJsonLines(text));
  const renderer = await Renderer.launch(rendererOptions(a));
  try {
    if (!a['no-self-check']) await runSelfChecks(renderer);
    const t0 = Date.now();
    // Print in input order as results complete.
    const done = new Array(items.length);
    let printed = 0;
    await renderer.renderAll(items, (r, i) => {
      done[i] = r;
      while (printed < items.length && done[printed]) {
        const x = done[printed];
        const o = { id: x.id, requests: x.requests };
        if (a.details) Object.assign(o, { types: x.types, profiles: x.profiles, blocked: x.blocked, errors: x.errors, ms: x.ms });
        process.stdout.write(JSON.stringify(o) + '\n');
        done[printed++] = true;
      }
    });
    const ms = Date.now() - t0;
    process.stderr.write(`rendered ${items.length} HTML in ${(ms / 1000).toFixed(1)} s (${items.length ? (ms / items.length).toFixed(0) : 0} ms each, ${renderer.opts.profiles.length} profiles, ${renderer.opts.concurrency} at a time)\n`);
  } finally {
    await renderer.close();
  }
  return 0;
}

main().then((c) => process.exit(c), (e) => { process.stderr.write(`render.mjs: ${e.stack || e}\n`); process.exit(2); });
