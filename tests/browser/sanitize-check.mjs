#!/usr/bin/env node
// Checks `bulwark sanitize` in a real browser: for each selected message,
//   bulwark sanitize IN -o TMP, then bulwark html TMP; every HTML part of the
//   sanitized message is rendered in Chromium (scripting off, all profiles) and
//   must make ZERO requests (any network scheme); and bulwark scan --json TMP
//   must list no remote resource with on_open true.
// Three tests: sanitize ran for every message; no request; no on_open resource.
//
// Usage: node sanitize-check.mjs [--bulwark build/bulwark] [--corpus DIR] [--limit N]
//          [--profiles all|quick|a,b] [--concurrency 3] [--jobs 4] [--show 30] [--keep]

import { readFileSync, existsSync, statSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve, relative, basename } from 'node:path';
import {
  Renderer, REPO_ROOT, parseArgs, selectCorpus, resolveBulwark, runBulwark, bulwarkLines, htmlItems,
  runSelfChecks, tempDir, closingLine, RENDER_OPTIONS, rendererOptions,
} from './lib.mjs';

const OPTIONS = {
  ...RENDER_OPTIONS,
  bulwark: { type: 'string', default: undefined },
  corpus: { type: 'string', default: join(REPO_ROOT, '..', 'shared', 'corpora', 'phishing_pot') },
  limit: { type: 'number', default: 0 },
  jobs: { type: 'number', default: 4 },
  show: { type: 'number', default: 30 },
  keep: { type: 'bool', default: false },
  help: { type: 'bool', default: false },
};

async function pool(n, list, fn) {
  let next = 0;
  await Promise.all(Array.from({ length: Math.max(1, n) }, async () => {
    while (next < list.length) { const i = next++; await fn(list[i], i); }
  }));
}

async function main() {
  const a = parseArgs(process.argv.slice(2), OPTIONS);
  if (a.help) {
    process.stdout.write(readFileSync(new URL(import.meta.url)).toString().split('\n').filter((l) => l.startsWith('//')).map((l) => l.slice(3)).join('\n') + '\n');
    return 0;
  }
  const bin = resolveBulwark(a.bulwark);
  const sel = selectCorpus(resolve(a.corpus), a.limit);
  const files = sel.files;
  console.log(`corpus: ${relative(process.cwd(), resolve(a.corpus)) || '.'}: ${files.length} of ${sel.total} messages`);
  console.log(`bulwark: ${bin}`);
  const work = tempDir('bulwark-sanitize-check-');

  // 1. sanitize every message.
  const t0 = Date.now();
  const sanitized = new Array(files.length).fill(null);
  const sanitizeFailures = [];
  await pool(a.jobs, files, async (f, i) => {
    const out = join(work, `${String(i).padStart(5, '0')}-${basename(f)}`);
    const r = await runBulwark(bin, ['sanitize', f, '-o', out], { timeoutMs: 120000 });
    if (r.signal || r.code === null || r.code >= 2) {
      sanitizeFailures.push({ source: f, why: `exit ${r.code}${r.signal ? ' signal ' + r.signal : ''}: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}` });
    } else if (!existsSync(out) || statSync(out).size === 0) {
      sanitizeFailures.push({ source: f, why: 'no output written' });
    } else {
      sanitized[i] = out;
    }
  });
  const ok = files.map((f, i) => ({ source: f, out: sanitized[i] })).filter((x) => x.out);
  const tSan = Date.now() - t0;

  // 2. bulwark html + scan on the sanitized files.
  const outs = ok.map((x) => x.out);
  const htmlObjs = outs.length ? await bulwarkLines(bin, 'html', [], outs) : [];
  const scanObjs = outs.length ? await bulwarkLines(bin, 'scan', ['--json'], outs) : [];
  const items = htmlItems(htmlObjs);
  const origOf = new Map(ok.map((x) => [x.out, x.source]));

  // 3. render.
  const renderer = await Renderer.launch(rendererOptions(a));
  const t1 = Date.now();
  let results;
  try {
    await runSelfChecks(renderer, (m) => console.log(m));
    results = await renderer.renderAll(items);
  } finally {
    await renderer.close();
  }
  const tRender = Date.now() - t1;

  const requestOffenders = [];
  const notSent = []; // requested by the page but never sent by a real browser: informational
  const renderErrors = [];
  for (let k = 0; k < items.length; k++) {
    const r = results[k];
    const orig = origOf.get(items[k].source) || items[k].source;
    for (const u of r.requests) requestOffenders.push({ source: orig, sanitized: items[k].source, part: items[k].id.slice(items[k].id.lastIndexOf('#') + 1), url: u, type: r.types[u] });
    for (const b of r.blocked) notSent.push({ source: orig, url: b.url, why: b.why });
    if (r.errors.length) renderErrors.push({ source: orig, errors: r.errors });
  }
  const scanOffenders = [];
  scanObjs.forEach((o, i) => {
    for (const res of o.remote_resources || []) {
      if (res && res.on_open === true) scanOffenders.push({ source: ok[i].source, sanitized: ok[i].out, url: res.url, element: res.element });
    }
  });

  const show = a.show;
  console.log('');
  console.log(`messages: ${files.length}, sanitized: ${ok.length}, HTML parts rendered: ${items.length}, profiles: ${rendererOptions(a).profiles.join(' ')}`);
  console.log(`time: sanitize ${(tSan / 1000).toFixed(1)} s, rendering ${(tRender / 1000).toFixed(1)} s (${items.length ? (tRender / items.length).toFixed(0) : 0} ms per HTML part)`);
  if (renderErrors.length) {
    console.log(`render errors in ${renderErrors.length} messages:`);
    for (const r of renderErrors.slice(0, 10)) console.log(`  ${r.source}: ${r.errors.join('; ')}`);
  }
  if (sanitizeFailures.length) {
    console.log(`\nsanitize failed for ${sanitizeFailures.length} messages:`);
    for (const f of sanitizeFailures.slice(0, show)) console.log(`  ${f.source}: ${f.why}`);
  }
  if (notSent.length) {
    console.log(`\nnote: ${notSent.length} requests a real browser would not send (restricted port, unhandled scheme), e.g.:`);
    for (const o of notSent.slice(0, 5)) console.log(`  ${o.source}  [${o.why}] ${o.url}`);
  }
  if (requestOffenders.length) {
    console.log(`\nChromium made ${requestOffenders.length} requests rendering sanitized HTML${requestOffenders.length > show ? ` (first ${show})` : ''}:`);
    for (const o of requestOffenders.slice(0, show)) console.log(`  ${o.source} (${o.part})  [${o.type || '?'}] ${o.url}`);
  }
  if (scanOffenders.length) {
    console.log(`\nbulwark scan lists ${scanOffenders.length} on_open resources in sanitized messages${scanOffenders.length > show ? ` (first ${show})` : ''}:`);
    for (const o of scanOffenders.slice(0, show)) console.log(`  ${o.source}  [${o.element}] ${o.url}`);
  }
  const report = join(work, 'sanitize-check.json');
  writeFileSync(report, JSON.stringify({ sanitizeFailures, requestOffenders, scanOffenders, notSent, renderErrors }, null, 1));
  if (!a.keep) {
    for (const x of ok) rmSync(x.out, { force: true });
  }
  console.log(`\ndetails: ${report}${a.keep ? ` (sanitized messages kept in ${work})` : ''}`);
  const tests = [
    ['sanitize succeeded for every message', sanitizeFailures.length === 0 && files.length > 0],
    ['no request from sanitized HTML', requestOffenders.length === 0],
    ['no on_open resource in scan of sanitized messages', scanOffenders.length === 0],
  ];
  for (const [name, pass] of tests) console.log(`${pass ? 'PASS' : 'FAIL'} ${name}`);
  const passed = tests.filter((t) => t[1]).length;
  console.log(closingLine(passed, tests.length - passed));
  return passed === tests.length ? 0 : 1;
}

main().then((c) => process.exit(c), (e) => {
  console.log(`sanitize-check.mjs: ${e.selfCheck ? 'renderer self-check failed' : (e.stack || e)}`);
  console.log(closingLine(0, 3));
  process.exit(e.selfCheck ? 1 : 2);
});
