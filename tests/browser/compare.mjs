#!/usr/bin/env node
// The browser test: does `bulwark scan --json` list, as on_open, exactly what a
// browser fetches when it displays the message?
//
// For each selected message: `bulwark html` gives its HTML parts, Chromium renders
// each part (scripting off, four display profiles, every request intercepted) and
// the union of what it requested is C (http/https only, exactly as Chromium
// serialized it). `bulwark scan --json` gives remote_resources; B is the set of
// their URLs with on_open true (fragment dropped: browsers never send it).
//   recall    = sum |C ∩ B| / sum |C|             (srcset/picture candidates count)
//   precision = sum |B' ∩ C| / sum |B'|           (B' = B without candidate: true)
// Micro-averaged over the messages. Exit 1 when either is below its threshold.
//
// Usage: node compare.mjs [--bulwark build/bulwark] [--corpus ../shared/corpora/phishing_pot]
//          [--limit N] [--min-recall 0.995] [--min-precision 0.98]
//          [--profiles all|quick|a,b] [--concurrency 3] [--show 30] [--out FILE.json]
//        Development without the CLI: --html-jsonl FILE --scan-jsonl FILE (their
//        outputs, precomputed) instead of --bulwark.

import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve, relative } from 'node:path';
import {
  Renderer, REPO_ROOT, parseArgs, selectCorpus, resolveBulwark, bulwarkLines, htmlItems,
  parseJsonLines, runSelfChecks, stripFragment, tempDir, closingLine, RENDER_OPTIONS, rendererOptions,
} from './lib.mjs';

const OPTIONS = {
  ...RENDER_OPTIONS,
  bulwark: { type: 'string', default: undefined },
  corpus: { type: 'string', default: join(REPO_ROOT, '..', 'shared', 'corpora', 'phishing_pot') },
  limit: { type: 'number', default: 0 },
  'min-recall': { type: 'number', default: 0.995 },
  'min-precision': { type: 'number', default: 0.98 },
  show: { type: 'number', default: 30 },
  out: { type: 'string', default: undefined },
  'html-jsonl': { type: 'string', default: undefined },
  'scan-jsonl': { type: 'string', default: undefined },
  help: { type: 'bool', default: false },
};

const isHttp = (u) => /^https?:/i.test(u);

// A loose key, only to hint at "bulwark has this URL but serialized differently".
function looseKey(u) {
  let s = stripFragment(u).trim();
  try { s = decodeURIComponent(s); } catch { /* keep */ }
  return s.toLowerCase().replace(/\/+$/, '').replace(/^https?:\/\//, '');
}

export function compareMessage(chromiumUrls, resources) {
  const C = new Set(chromiumUrls.filter(isHttp));
  const otherSchemes = chromiumUrls.filter((u) => !isHttp(u));
  const all = new Map(); // url -> [{element, on_open, candidate}]
  for (const r of resources || []) {
    if (!r || typeof r.url !== 'string') continue;
    const u = stripFragment(r.url);
    if (!all.has(u)) all.set(u, []);
    all.get(u).push({ element: r.element, on_open: r.on_open === true, candidate: r.candidate === true });
  }
  const Ball = new Set();
  const Bnc = new Set();
  for (const [u, rs] of all) {
    if (rs.some((r) => r.on_open)) Ball.add(u);
    if (rs.some((r) => r.on_open && !r.candidate)) Bnc.add(u);
  }
  const looseB = new Map();
  for (const u of all.keys()) looseB.set(looseKey(u), u);
  const looseC = new Map();
  for (const u of C) looseC.set(looseKey(u), u);

  const missed = [];
  let hit = 0;
  for (const u of C) {
    if (Ball.has(u)) { hit++; continue; }
    let hint = null;
    if (all.has(u)) hint = `bulwark lists it with on_open=false (${all.get(u).map((r) => r.element).join(',')})`;
    else if (looseB.has(looseKey(u))) hint = `bulwark serialized it as ${looseB.get(looseKey(u))}`;
    missed.push({ url: u, hint });
  }
  const falsePositives = [];
  let fpHit = 0;
  for (const u of Bnc) {
    if (C.has(u)) { fpHit++; continue; }
    const rs = all.get(u).filter((r) => r.on_open && !r.candidate);
    let hint = null;
    if (looseC.has(looseKey(u))) hint = `Chromium requested ${looseC.get(looseKey(u))}`;
    falsePositives.push({ url: u, element: [...new Set(rs.map((r) => r.element))].join(','), hint });
  }
  return {
    chromium: [...C], otherSchemes, bulwarkOnOpen: [...Ball], bulwarkCandidates: [...Ball].filter((u) => !Bnc.has(u)),
    recallHit: hit, recallTotal: C.size, precisionHit: fpHit, precisionTotal: Bnc.size, missed, falsePositives,
  };
}

async function main() {
  const a = parseArgs(process.argv.slice(2), OPTIONS);
  if (a.help) {
    process.stdout.write(readFileSync(new URL(import.meta.url)).toString().split('\n').filter((l) => l.startsWith('//')).map((l) => l.slice(3)).join('\n') + '\n');
    return 0;
  }
  const t0 = Date.now();
  let htmlObjs;
  let scanObjs;
  let files;
  if (a['html-jsonl'] || a['scan-jsonl']) {
    if (!a['html-jsonl'] || !a['scan-jsonl']) throw new Error('--html-jsonl and --scan-jsonl go together');
    htmlObjs = parseJsonLines(readFileSync(a['html-jsonl'], 'utf8'), a['html-jsonl']);
    scanObjs = parseJsonLines(readFileSync(a['scan-jsonl'], 'utf8'), a['scan-jsonl']);
    if (a.limit && a.limit < htmlObjs.length) {
      const step = htmlObjs.length / a.limit;
      const idx = Array.from({ length: a.limit }, (_, i) => Math.floor(i * step));
      htmlObjs = idx.map((i) => htmlObjs[i]);
      scanObjs = idx.map((i) => scanObjs[i]);
    }
    files = htmlObjs.map((o) => o.source);
    console.log(`input: ${htmlObjs.length} messages from ${a['html-jsonl']} and ${a['scan-jsonl']}`);
  } else {
    const bin = resolveBulwark(a.bulwark);
    const sel = selectCorpus(resolve(a.corpus), a.limit);
    files = sel.files;
    console.log(`corpus: ${relative(process.cwd(), resolve(a.corpus)) || '.'}: ${files.length} of ${sel.total} messages (every ${(sel.total / files.length).toFixed(2)}th by name)`);
    console.log(`bulwark: ${bin}`);
    htmlObjs = await bulwarkLines(bin, 'html', [], files);
    scanObjs = await bulwarkLines(bin, 'scan', ['--json'], files);
  }
  if (htmlObjs.length !== scanObjs.length) throw new Error(`bulwark html gave ${htmlObjs.length} messages, scan gave ${scanObjs.length}`);
  const warnings = [];
  for (let i = 0; i < htmlObjs.length; i++) {
    if (htmlObjs[i].source !== scanObjs[i].source) warnings.push(`message ${i + 1}: html source ${htmlObjs[i].source} != scan source ${scanObjs[i].source}`);
  }
  const tBulwark = Date.now() - t0;

  const items = htmlItems(htmlObjs);
  // Attribute parts to messages by index (sources could repeat).
  const partsOf = [];
  {
    let k = 0;
    htmlObjs.forEach((o, i) => { const n = Array.isArray(o.parts) ? o.parts.length : 0; partsOf[i] = [k, k + n]; k += n; });
  }

  const renderer = await Renderer.launch(rendererOptions(a));
  let results;
  const t1 = Date.now();
  try {
    await runSelfChecks(renderer, (m) => console.log(m));
    let done = 0;
    results = await renderer.renderAll(items, () => {
      done++;
      if (process.stderr.isTTY && done % 25 === 0) process.stderr.write(`\rrendered ${done}/${items.length}`);
    });
    if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
  } finally {
    await renderer.close();
  }
  const tRender = Date.now() - t1;

  let rHit = 0, rTot = 0, pHit = 0, pTot = 0;
  const details = [];
  const misses = [];
  const fps = [];
  const renderErrors = [];
  const otherSchemes = [];
  for (let i = 0; i < htmlObjs.length; i++) {
    const [s, e] = partsOf[i];
    const rs = results.slice(s, e);
    const urls = [...new Set(rs.flatMap((r) => r.requests))];
    const resources = Array.isArray(scanObjs[i].remote_resources) ? scanObjs[i].remote_resources : [];
    const c = compareMessage(urls, resources);
    rHit += c.recallHit; rTot += c.recallTotal; pHit += c.precisionHit; pTot += c.precisionTotal;
    const source = scanObjs[i].source ?? htmlObjs[i].source ?? files[i];
    const errs = rs.flatMap((r) => r.errors);
    if (errs.length) renderErrors.push({ source, errors: errs });
    const types = Object.assign({}, ...rs.map((r) => r.types));
    for (const m of c.missed) misses.push({ source, ...m, type: types[m.url] });
    for (const f of c.falsePositives) fps.push({ source, ...f });
    for (const u of c.otherSchemes) otherSchemes.push({ source, url: u });
    details.push({
      source, parts: e - s, chromium: c.chromium, chromium_types: types, bulwark_on_open: c.bulwarkOnOpen,
      bulwark_candidates: c.bulwarkCandidates, missed: c.missed, false_positives: c.falsePositives,
      other_schemes: c.otherSchemes, blocked: rs.flatMap((r) => r.blocked), render_errors: errs,
      render_ms: rs.reduce((x, r) => x + r.ms, 0),
    });
  }
  const recall = rTot ? rHit / rTot : 1;
  const precision = pTot ? pHit / pTot : 1;

  // Worst first: the messages with the most misses (false positives) lead.
  const worst = (list) => {
    const per = new Map();
    for (const x of list) per.set(x.source, (per.get(x.source) || 0) + 1);
    return [...list].sort((x, y) => (per.get(y.source) - per.get(x.source)) || (x.source < y.source ? -1 : x.source > y.source ? 1 : 0));
  };
  const show = a.show;
  const out = a.out || join(tempDir('bulwark-browser-compare-'), 'compare.json');
  writeFileSync(out, JSON.stringify({
    recall, precision, recall_hit: rHit, recall_total: rTot, precision_hit: pHit, precision_total: pTot,
    thresholds: { recall: a['min-recall'], precision: a['min-precision'] },
    profiles: rendererOptions(a).profiles, messages: details, warnings,
  }, null, 1));

  console.log('');
  console.log(`messages: ${htmlObjs.length}, HTML parts rendered: ${items.length}, profiles: ${rendererOptions(a).profiles.join(' ')}`);
  console.log(`time: bulwark ${(tBulwark / 1000).toFixed(1)} s, rendering ${(tRender / 1000).toFixed(1)} s (${items.length ? (tRender / items.length).toFixed(0) : 0} ms per HTML part, ${htmlObjs.length ? (tRender / htmlObjs.length).toFixed(0) : 0} ms per message)`);
  for (const w of warnings.slice(0, 10)) console.log(`warning: ${w}`);
  if (renderErrors.length) {
    console.log(`render errors in ${renderErrors.length} messages (their request sets may be incomplete):`);
    for (const r of renderErrors.slice(0, 10)) console.log(`  ${r.source}: ${r.errors.join('; ')}`);
  }
  if (otherSchemes.length) console.log(`note: ${otherSchemes.length} requests with non-http(s) schemes were left out of C, e.g. ${otherSchemes[0].url}`);
  if (misses.length) {
    console.log(`\nmissed: ${misses.length} URLs Chromium fetched that bulwark does not list as on_open${misses.length > show ? ` (first ${show})` : ''}:`);
    for (const m of worst(misses).slice(0, show)) console.log(`  ${m.source}  [${m.type || '?'}] ${m.url}${m.hint ? `\n      ${m.hint}` : ''}`);
  }
  if (fps.length) {
    console.log(`\nfalse positives: ${fps.length} on_open URLs (not srcset/picture candidates) that Chromium did not fetch${fps.length > show ? ` (first ${show})` : ''}:`);
    for (const f of worst(fps).slice(0, show)) console.log(`  ${f.source}  [${f.element || '?'}] ${f.url}${f.hint ? `\n      ${f.hint}` : ''}`);
  }
  console.log(`\ndetails: ${out}`);
  const rOk = recall >= a['min-recall'];
  const pOk = precision >= a['min-precision'];
  console.log(`${rOk ? 'PASS' : 'FAIL'} recall    ${recall.toFixed(4)} = ${rHit}/${rTot} (min ${a['min-recall']})`);
  console.log(`${pOk ? 'PASS' : 'FAIL'} precision ${precision.toFixed(4)} = ${pHit}/${pTot} (min ${a['min-precision']})`);
  const passed = (rOk ? 1 : 0) + (pOk ? 1 : 0);
  console.log(closingLine(passed, 2 - passed));
  return passed === 2 ? 0 : 1;
}

main().then((c) => process.exit(c), (e) => {
  console.log(`compare.mjs: ${e.selfCheck ? 'renderer self-check failed' : (e.stack || e)}`);
  console.log(closingLine(0, 2));
  process.exit(e.selfCheck ? 1 : 2);
});
