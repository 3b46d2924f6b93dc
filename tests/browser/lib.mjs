// Shared code of Bulwark's browser tests: the Chromium renderer (request capture),
// the start-up self-checks, corpus selection, running the bulwark CLI, and the
// closing "N passed, N failed" line.
//
// Only playwright-core is used, driving the system's chromium-headless-shell; no
// browser is ever downloaded.

import { spawn } from 'node:child_process';
import { readdirSync, statSync, mkdtempSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const HERE = dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = resolve(HERE, '..', '..');

export const DEFAULT_CHROMIUM = '/usr/bin/chromium-headless-shell';

// Flags required by the test plan, plus two that keep whatever the interception
// layer does not answer (<link rel=prefetch>, preconnect, dns-prefetch) off the
// network: no host name resolves, and every connection, to an IP literal too,
// goes to a proxy on a closed loopback port (connection refused).
export const BROWSER_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-default-apps',
  '--disable-extensions',
  '--host-resolver-rules=MAP * ~NOTFOUND',
  '--proxy-server=http://127.0.0.1:9',
  '--proxy-bypass-list=<-loopback>',
];

// Display profiles. A "device" is what must be fixed when the browser context is
// created (viewport, device scale factor, isMobile); the colour scheme is switched
// inside a page with page.emulateMedia().
export const DEVICES = {
  desktop: { viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1, isMobile: false, hasTouch: false },
  phone: { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true },
};
export const PROFILES = {
  'desktop-light': { device: 'desktop', colorScheme: 'light' },
  'desktop-dark': { device: 'desktop', colorScheme: 'dark' },
  'phone-light': { device: 'phone', colorScheme: 'light' },
  'phone-dark': { device: 'phone', colorScheme: 'dark' },
};
export const PROFILE_SETS = {
  all: ['desktop-light', 'desktop-dark', 'phone-light', 'phone-dark'],
  quick: ['desktop-light', 'phone-dark'],
};

export function parseProfiles(spec) {
  const names = PROFILE_SETS[spec || 'all'] || String(spec).split(',').map((s) => s.trim()).filter(Boolean);
  for (const n of names) if (!PROFILES[n]) throw new Error(`unknown profile "${n}" (known: ${Object.keys(PROFILES).join(', ')}, or sets: ${Object.keys(PROFILE_SETS).join(', ')})`);
  if (!names.length) throw new Error('no profiles selected');
  return names;
}

// Ports Chromium's network stack refuses (net/base/port_util.cc, kRestrictedPorts).
// The refusal happens below the DevTools interception layer, so an intercepted
// request to such a port is still reported by the route handler although a real
// browser never sends it; we move those to `blocked`.
const RESTRICTED_PORTS = new Set([
  1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95, 101, 102, 103,
  104, 109, 110, 111, 113, 115, 117, 119, 123, 135, 137, 139, 143, 161, 179, 389, 427, 465, 512, 513,
  514, 515, 526, 530, 531, 532, 540, 548, 554, 556, 563, 587, 601, 636, 989, 990, 993, 995, 1719, 1720,
  1723, 2049, 3659, 4045, 4190, 5060, 5061, 6000, 6566, 6665, 6666, 6667, 6668, 6669, 6679, 6697,
  10080,
]);

// Schemes a page's subresource request can go out on. Everything local (data:,
// about:, blob:, file:, cid: ...) is ignored; any other scheme reaches the DevTools
// interception layer but has no handler in a real browser, which fails it
// (ERR_UNKNOWN_URL_SCHEME) without touching the network: such requests are
// moved to `blocked` as well.
const NETWORK_SCHEMES = new Set(['http:', 'https:', 'ws:', 'wss:', 'ftp:']);
// cid:/mid: name parts of the message itself (RFC 2392): a mail client resolves
// them locally.
const LOCAL_SCHEMES = new Set(['data:', 'about:', 'chrome:', 'blob:', 'javascript:', 'filesystem:', 'file:', 'chrome-extension:', 'devtools:', 'chrome-untrusted:', 'cid:', 'mid:']);

// A failed request was never sent when Chromium blocked it itself: Playwright
// reports those with the blocked reason ("origin", "csp", "mixed-content", ...)
// rather than a net:: error, or with one of these net:: errors.
const NOT_SENT_NET_ERRORS = new Set([
  'net::ERR_BLOCKED_BY_CLIENT', 'net::ERR_BLOCKED_BY_ADMINISTRATOR', 'net::ERR_BLOCKED_BY_CSP',
  'net::ERR_BLOCKED_BY_ORB', 'net::ERR_UNSAFE_PORT', 'net::ERR_UNKNOWN_URL_SCHEME',
  'net::ERR_INVALID_URL', 'net::ERR_DISALLOWED_URL_SCHEME', 'net::ERR_ACCESS_DENIED',
]);
export function notSentFailure(errorText) {
  if (!errorText) return false;
  if (!errorText.startsWith('net::')) return true;
  return NOT_SENT_NET_ERRORS.has(errorText);
}

export function stripFragment(url) {
  const i = url.indexOf('#');
  return i < 0 ? url : url.slice(0, i);
}

export function classify(url) {
  let u;
  try { u = new URL(url); } catch { return { count: true, url }; }
  if (LOCAL_SCHEMES.has(u.protocol)) return { count: false };
  if (!NETWORK_SCHEMES.has(u.protocol)) return { count: false, blocked: 'unhandled-scheme' };
  if (u.port && RESTRICTED_PORTS.has(Number(u.port))) return { count: false, blocked: 'restricted-port' };
  return { count: true, url: stripFragment(url) };
}

const GIF_1X1 = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');
// A valid 900-byte TrueType font (DejaVu Sans subset to the glyph "x"; DejaVu's
// licence allows redistribution). It is served for every font request so that the
// first usable src of an @font-face loads, as it would from a real server; an
// empty or broken body would make Chromium fall back to the next src and fetch
// URLs that a browser talking to the real server never would.
// A valid 10 ms WAV (8 kHz, 8-bit mono silence), served for every media request,
// so that <video>/<audio> take their first playable <source> and do not go on to
// fetch the next one as they would after an error.
const MEDIA_WAV = (() => {
  const n = 80;
  const b = Buffer.alloc(44 + n, 0x80);
  b.write('RIFF', 0); b.writeUInt32LE(36 + n, 4); b.write('WAVE', 8);
  b.write('fmt ', 12); b.writeUInt32LE(16, 16); b.writeUInt16LE(1, 20); b.writeUInt16LE(1, 22);
  b.writeUInt32LE(8000, 24); b.writeUInt32LE(8000, 28); b.writeUInt16LE(1, 32); b.writeUInt16LE(8, 34);
  b.write('data', 36); b.writeUInt32LE(n, 40);
  return b;
})();
const FONT_TTF = Buffer.from('AAEAAAAMAIAAAwBATUFUSAk/M4QAAAKMAAAA9k9TLzJsUK+CAAABmAAAAFZjbWFwAAwAywAAAfAAAAA0Z2FzcAAHAAcAAAKAAAAADGdseWbohAmzAAAAzAAAAEBoZWFkJcTiiwAAATQAAAA2aGhlYQ2fB28AAAF0AAAAJGhtdHgJiQChAAABbAAAAAhsb2NhACAAAAAAASwAAAAGbWF4cABCA8EAAAEMAAAAIG5hbWUC5gsKAAACJAAAADxwb3N0/9sAWgAAAmAAAAAgAAEAOwAABHkEYAALAAAJAiMJASMJATMJAQRk/msBqtn+uv662QGz/nLZASkBKQRg/d/9wQG4/kgCSgIW/nEBjwABAAAAAgNUACsAaAAMAAEAAAAAAAAAAAAAAAAACAAEAAAAAAAgAAAAAQAAAAJeuLSF/91fDzz1AB8IAAAAAADgMJxXAAAAAOAwnFf31vxMDlkJ3AAAAAgAAgAAAAAAAATNAGYEvAA7AAEAAAdt/h0AAA7+99b6UQ5ZAAEAAAAAAAAAAAAAAAAAAAACAAEEDgGQAAUAAAUzBZkAAAEeBTMFmQAAA9cAZgISAAACCwYDAwgEAgIEAAAAAQAAAAAAAAAAAAAAAFBmRWQAQAB4AHgGFP4UAZoHbQHjYAAB/9//AAAAAAAAAAIAAAADAAAAFAADAAEAAAAUAAQAIAAAAAQABAABAAAAeP//AAAAeP///4kAAQAAAAAAAAACAB4AAwABBAkAAQAWAAAAAwABBAkAAgAIABYARABlAGoAYQBWAHUAIABTAGEAbgBzAEIAbwBvAGsAAwAAAAAAAP/YAFoAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAIACAAC//8AAwABAAAACgDgAOgAUAA8DAAH3QAAAAACggAABGAAAAXVAAAAAAAABGAAAAAAAAAAAAAAAAAAAARgAAAAAAAAAWgAAARgAAAAVQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAABDgAAAnYAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAFoAAAEOAAAAWgAAAFoAAAEOAAAAAAAAAAAAAAEOAAAAWgAAAFoAAAEOAAAAWgAAAFoAAABaAAABcgAAAFoAAABaAAACOAAA+48AAAA8AAAAAAAAAAAAKAAKAAoAAAAAAAEAAAAA', 'base64');
const NO_STORE = { 'cache-control': 'no-store' };

// Answers every request locally; nothing is ever let through to the network.
function fulfil(route, request, page) {
  const type = request.resourceType();
  if (request.isNavigationRequest()) {
    const frame = request.frame();
    // A main-frame navigation (meta refresh) gets 204: Chromium then stays on the
    // current document, so the render ends where it was.
    if (page && frame === page.mainFrame()) return route.fulfill({ status: 204, headers: NO_STORE });
    return route.fulfill({ status: 200, contentType: 'text/html; charset=utf-8', headers: NO_STORE, body: '<!doctype html><title></title>' });
  }
  switch (type) {
    case 'image':
      return route.fulfill({ status: 200, contentType: 'image/gif', headers: NO_STORE, body: GIF_1X1 });
    case 'stylesheet':
      return route.fulfill({ status: 200, contentType: 'text/css', headers: NO_STORE, body: '' });
    case 'font':
      // An .eot or SVG font is what a real server would send for such a URL, and
      // Chromium cannot use either: it goes on to the next src. Mimic that with
      // an unusable body; every other font URL gets the working font.
      if (/\.(eot|svgz?)$/i.test(new URL(request.url()).pathname)) {
        return route.fulfill({ status: 200, contentType: 'application/vnd.ms-fontobject', headers: { ...NO_STORE, 'access-control-allow-origin': '*' }, body: '' });
      }
      return route.fulfill({ status: 200, contentType: 'font/ttf', headers: { ...NO_STORE, 'access-control-allow-origin': '*' }, body: FONT_TTF });
    case 'media':
      return route.fulfill({ status: 200, contentType: 'audio/wav', headers: NO_STORE, body: MEDIA_WAV });
    case 'document':
      return route.fulfill({ status: 200, contentType: 'text/html; charset=utf-8', headers: NO_STORE, body: '<!doctype html><title></title>' });
    default:
      return route.fulfill({ status: 204, headers: NO_STORE });
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// One slot renders one HTML at a time. It owns, per device, one browser context
// with one context-level route and one page that is reused from message to
// message (creating a page costs ~65 ms, more than a render). Between two
// renders the page navigates to about:blank, which discards the old document and
// anything it had scheduled (a meta refresh with a delay), so every request is
// attributed to the HTML being rendered. The HTTP cache is off (Playwright
// disables it while routing) and every response says no-store, so a URL seen
// before is requested again.
class Slot {
  constructor(browser, opts) {
    this.browser = browser;
    this.opts = opts;
    this.devices = new Map(); // device -> {ctx, page}
    this.stray = 0;
  }

  async newContext(device) {
    const ctx = await this.browser.newContext({
      ...DEVICES[device],
      javaScriptEnabled: false,
      serviceWorkers: 'block',
      acceptDownloads: false,
    });
    const st = { ctx, page: null, sink: null };
    // Requests are recorded from the Network domain ('request' events), not from
    // the route handler: a few kinds (<link rel=prefetch>) are not offered to
    // DevTools interception at all and would otherwise go unseen. Those go to
    // the network stack, where the proxy and resolver rules of BROWSER_ARGS stop
    // them on this machine.
    ctx.on('request', (request) => {
      const sink = st.sink;
      const c = classify(request.url());
      if (!c.count && !c.blocked) return;
      if (!sink) { this.stray++; return; }
      if (c.count) sink.add(c.url, request.resourceType());
      else sink.block(request.url(), c.blocked);
    });
    // Chromium announces some requests that it then refuses before they reach
    // the network (CORS for <track>/<use>, credentials in the URL, CSP, ...): a
    // failure whose reason says so takes the request back out of the set.
    ctx.on('requestfailed', (request) => {
      const sink = st.sink;
      const why = (request.failure() && request.failure().errorText) || '';
      if (!sink || !notSentFailure(why)) return;
      const c = classify(request.url());
      if (c.count) sink.unsend(c.url, why);
    });
    // Every intercepted request is answered here; none is continued.
    await ctx.route('**/*', (route) => fulfil(route, route.request(), st.page).catch(() => {}));
    return st;
  }

  async state(device) {
    let st = this.opts.freshContext ? null : this.devices.get(device);
    if (!st) {
      st = await this.newContext(device);
      if (!this.opts.freshContext) this.devices.set(device, st);
    }
    if (!st.page || st.page.isClosed()) st.page = await st.ctx.newPage();
    return st;
  }

  async dropState(device, st) {
    this.devices.delete(device);
    await st.ctx.close().catch(() => {});
  }

  // Renders `html` under the colour schemes of one device; returns per-profile
  // request lists. Unless opts.reload, the second scheme is applied to the same
  // document with page.emulateMedia (its list then holds what the switch added).
  async renderDevice(html, device, schemes) {
    const { settleMs, maxWaitMs, loadTimeoutMs, reload } = this.opts;
    let st = await this.state(device);
    const out = {};
    const errors = [];
    let broken = false;
    try {
      for (let i = 0; i < schemes.length; i++) {
        const scheme = schemes[i];
        const seen = new Map();
        const blocked = [];
        let last = Date.now();
        let loaded = 0;
        let late = 0;
        const sink = {
          add(url, type) {
            const e = seen.get(url);
            if (e) e.n++; else seen.set(url, { type, n: 1, unsent: 0, why: null });
            last = Date.now();
            if (loaded) late = Math.max(late, last - loaded);
          },
          unsend(url, why) {
            const e = seen.get(url);
            if (e) { e.unsent++; e.why = why; }
            last = Date.now();
          },
          block(url, why) { blocked.push({ url, why }); last = Date.now(); },
        };
        const t0 = Date.now();
        const page = st.page;
        if (i === 0 || reload) {
          st.sink = null;
          try {
            await page.goto('about:blank', { timeout: loadTimeoutMs });
          } catch (e) {
            // A wedged or crashed page: start over with a new context.
            await this.dropState(device, st);
            st = await this.state(device);
          }
          await st.page.emulateMedia({ colorScheme: scheme, media: 'screen' });
          st.sink = sink;
          try {
            await st.page.setContent(html, { waitUntil: 'load', timeout: loadTimeoutMs });
          } catch (e) {
            errors.push(`${device}-${scheme}: ${String(e.message || e).split('\n')[0]}`);
            broken = true;
          }
          loaded = Date.now();
        } else {
          st.sink = sink;
          await st.page.emulateMedia({ colorScheme: scheme, media: 'screen' });
          loaded = Date.now();
        }
        // Force a synchronous style and layout pass: the background images and
        // fonts that the (new) media conditions call for are requested during it,
        // so the quiet period below need not cover a frame interval.
        await st.page.evaluate(() => { const d = document.documentElement; if (d) d.getBoundingClientRect(); }).catch(() => {});
        // Settle: wait until no request for settleMs, at most maxWaitMs in all.
        last = Math.max(last, Date.now());
        while (Date.now() - t0 < maxWaitMs) {
          const quiet = Date.now() - last;
          if (quiet >= settleMs) break;
          await sleep(Math.min(settleMs - quiet, maxWaitMs - (Date.now() - t0)) + 1);
        }
        st.sink = null;
        const requests = [];
        const types = {};
        for (const [u, e] of seen) {
          if (e.n > e.unsent) { requests.push(u); types[u] = e.type; } else blocked.push({ url: u, why: e.why });
        }
        out[`${device}-${scheme}`] = { requests, types, blocked, ms: Date.now() - t0, lateMs: late };
      }
    } finally {
      st.sink = null;
      if (this.opts.freshContext || broken) await this.dropState(device, st);
    }
    return { profiles: out, errors };
  }

  async close() {
    for (const st of this.devices.values()) await st.ctx.close().catch(() => {});
    this.devices.clear();
  }
}

export class Renderer {
  static async launch(opts = {}) {
    const o = {
      executablePath: opts.executablePath || process.env.BULWARK_CHROMIUM || DEFAULT_CHROMIUM,
      profiles: opts.profiles || PROFILE_SETS.all,
      concurrency: opts.concurrency || 3,
      settleMs: opts.settleMs ?? 40,
      maxWaitMs: opts.maxWaitMs ?? 1500,
      loadTimeoutMs: opts.loadTimeoutMs ?? 10000,
      freshContext: !!opts.freshContext,
      reload: !!opts.reload,
    };
    if (!existsSync(o.executablePath)) throw new Error(`Chromium not found at ${o.executablePath}`);
    // Playwright's launch() always gives Chromium a new temporary --user-data-dir
    // and removes it on close.
    const browser = await chromium.launch({ executablePath: o.executablePath, args: BROWSER_ARGS, headless: true });
    const r = new Renderer();
    r.browser = browser;
    r.opts = o;
    r.slots = Array.from({ length: o.concurrency }, () => new Slot(browser, o));
    r.free = [...r.slots];
    r.waiters = [];
    return r;
  }

  async acquire() {
    if (this.free.length) return this.free.pop();
    return new Promise((res) => this.waiters.push(res));
  }

  release(slot) {
    const w = this.waiters.shift();
    if (w) w(slot); else this.free.push(slot);
  }

  // Renders one HTML under the configured profiles (or `profiles`). Returns
  // { requests: [union, in first-seen order], profiles: {name: {...}}, blocked, errors, ms }.
  async render(html, profiles = this.opts.profiles) {
    const slot = await this.acquire();
    const t0 = Date.now();
    try {
      const byDevice = new Map();
      for (const p of profiles) {
        const { device, colorScheme } = PROFILES[p];
        if (!byDevice.has(device)) byDevice.set(device, []);
        byDevice.get(device).push(colorScheme);
      }
      const union = new Map();
      const per = {};
      const blocked = [];
      const errors = [];
      for (const [device, schemes] of byDevice) {
        const r = await slot.renderDevice(html, device, schemes);
        errors.push(...r.errors);
        for (const [name, res] of Object.entries(r.profiles)) {
          per[name] = res;
          for (const u of res.requests) if (!union.has(u)) union.set(u, res.types[u]);
          blocked.push(...res.blocked);
        }
      }
      const seenBlocked = new Set();
      const uniqueBlocked = blocked.filter((b) => { const k = b.why + ' ' + b.url; if (seenBlocked.has(k)) return false; seenBlocked.add(k); return true; });
      return { requests: [...union.keys()], types: Object.fromEntries(union), profiles: per, blocked: uniqueBlocked, errors, ms: Date.now() - t0 };
    } finally {
      this.release(slot);
    }
  }

  // Renders many items ({id, html}) with the slots in parallel, calling onResult in
  // completion order; returns results in input order.
  async renderAll(items, onResult) {
    const results = new Array(items.length);
    let next = 0;
    const worker = async () => {
      while (next < items.length) {
        const i = next++;
        const r = await this.render(items[i].html);
        results[i] = { id: items[i].id, ...r };
        if (onResult) await onResult(results[i], i);
      }
    };
    await Promise.all(Array.from({ length: this.opts.concurrency }, worker));
    return results;
  }

  async close() {
    for (const s of this.slots) await s.close();
    await this.browser.close().catch(() => {});
  }
}

// ---------------------------------------------------------------------------
// Self-checks, run by every tool before it trusts the renderer.

export const SELF_CHECKS = [
  {
    name: 'scripting is disabled and <noscript> content renders',
    html: `<!doctype html><html><body><script>fetch('http://a.example/x');new Image().src='http://a.example/img'</script><noscript><img src=http://b.example/n></noscript></body></html>`,
    expect: ['http://b.example/n'],
  },
  {
    name: 'background of a display:none element is not fetched',
    html: `<!doctype html><html><body><div style="display:none;background:url(http://c.example/bg)">x</div></body></html>`,
    expect: [],
  },
  {
    name: '<img style="display:none"> is fetched',
    html: `<!doctype html><html><body><img style="display:none" src=http://d.example/i></body></html>`,
    expect: ['http://d.example/i'],
  },
  {
    name: 'relative and protocol-relative URLs are not requested (no base URL)',
    html: `<!doctype html><html><body><img src="rel/x.png"><img src="//e.example/p.png"><img src="/abs.png"></body></html>`,
    expect: [],
  },
  {
    name: 'requests DevTools interception does not see (<link rel=prefetch>) are recorded too',
    html: `<!doctype html><html><head><link rel=prefetch href="http://f.example/p"></head><body>x</body></html>`,
    expect: ['http://f.example/p'],
  },
  {
    name: 'a repeated URL is requested again by the next render (no cache between messages)',
    html: `<!doctype html><html><body><img src=http://d.example/i></body></html>`,
    expect: ['http://d.example/i'],
  },
];

export async function runSelfChecks(renderer, log = console.error) {
  const failures = [];
  for (const c of SELF_CHECKS) {
    const r = await renderer.render(c.html);
    const got = [...r.requests].sort();
    const want = [...c.expect].sort();
    const ok = got.length === want.length && got.every((u, i) => u === want[i]) && !r.errors.length;
    if (!ok) failures.push(`${c.name}: expected ${JSON.stringify(want)}, got ${JSON.stringify(got)}${r.errors.length ? ' errors ' + JSON.stringify(r.errors) : ''}`);
  }
  if (failures.length) {
    log('SELF-CHECK FAILED: the renderer does not behave as a script-less browser should:');
    for (const f of failures) log('  - ' + f);
    const err = new Error('renderer self-check failed');
    err.selfCheck = failures;
    throw err;
  }
  log(`self-check: ${SELF_CHECKS.length} renderer checks passed`);
}

// ---------------------------------------------------------------------------
// Command line, corpus and bulwark helpers.

// Renderer options shared by every command line tool.
export const RENDER_OPTIONS = {
  profiles: { type: 'string', default: 'all' },
  concurrency: { type: 'number', default: 3 },
  'settle-ms': { type: 'number', default: 40 },
  'max-wait-ms': { type: 'number', default: 1500 },
  'fresh-context': { type: 'bool', default: false },
  reload: { type: 'bool', default: false },
  'no-self-check': { type: 'bool', default: false },
  chromium: { type: 'string', default: undefined },
};

export function rendererOptions(a) {
  return {
    executablePath: a.chromium,
    profiles: parseProfiles(a.profiles),
    concurrency: a.concurrency,
    settleMs: a['settle-ms'],
    maxWaitMs: a['max-wait-ms'],
    freshContext: a['fresh-context'],
    reload: a.reload,
  };
}

export function parseArgs(argv, spec) {
  // spec: {name: {type: 'string'|'number'|'bool', default}}
  const out = {};
  for (const [k, v] of Object.entries(spec)) out[k] = v.default;
  const rest = [];
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i];
    if (!a.startsWith('--')) { rest.push(a); continue; }
    let val;
    const eq = a.indexOf('=');
    if (eq >= 0) { val = a.slice(eq + 1); a = a.slice(0, eq); }
    const name = a.slice(2);
    const s = spec[name];
    if (!s) throw new Error(`unknown option ${a}`);
    if (s.type === 'bool') { out[name] = val === undefined ? true : !/^(0|false|no)$/i.test(val); continue; }
    if (val === undefined) { val = argv[++i]; if (val === undefined) throw new Error(`option ${a} needs a value`); }
    out[name] = s.type === 'number' ? Number(val) : val;
    if (s.type === 'number' && !Number.isFinite(out[name])) throw new Error(`option ${a}: not a number: ${val}`);
  }
  out._ = rest;
  return out;
}

// Lists the message files of a corpus directory (recursively), sorted by name, and
// picks a deterministic spread of `limit` of them: every k-th file, so that the
// sample covers the whole corpus rather than its first N names.
export function selectCorpus(dir, limit) {
  const files = [];
  const walk = (d) => {
    for (const name of readdirSync(d)) {
      if (name.startsWith('.')) continue;
      const p = join(d, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if (st.isFile() && !/\.(license|md|txt|json|py|sh)$/i.test(name) && !/LICENSE/.test(name)) files.push(p);
    }
  };
  walk(dir);
  files.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (!limit || limit >= files.length) return { files, total: files.length };
  const step = files.length / limit;
  const picked = [];
  for (let i = 0; i < limit; i++) picked.push(files[Math.floor(i * step)]);
  return { files: picked, total: files.length };
}

export function resolveBulwark(p) {
  const cand = p || process.env.BULWARK || join(REPO_ROOT, 'build', 'bulwark');
  return resolve(cand);
}

// Runs bulwark with args; resolves {code, stdout, stderr}. Exit 1 is normal for
// scan (a suspicious message); only 2+ or a signal is treated as failure by callers.
export function runBulwark(bin, args, { timeoutMs = 600000 } = {}) {
  return new Promise((res, rej) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out = [];
    const err = [];
    child.stdout.on('data', (d) => out.push(d));
    child.stderr.on('data', (d) => err.push(d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => { clearTimeout(timer); rej(e); });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      res({ code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
  });
}

export function parseJsonLines(text, what = 'input') {
  const out = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i].trim();
    if (!l) continue;
    try { out.push(JSON.parse(l)); } catch (e) { throw new Error(`${what}: line ${i + 1} is not JSON: ${e.message}`); }
  }
  return out;
}

// Splits file lists into batches so one bulwark run gets a bounded command line.
export function batches(list, n = 100) {
  const out = [];
  for (let i = 0; i < list.length; i += n) out.push(list.slice(i, i + n));
  return out;
}

// Runs `bulwark SUB [flags] FILES...` in batches; returns the JSON objects, and
// checks there is exactly one per input file, in order.
export async function bulwarkLines(bin, sub, flags, files) {
  const objs = [];
  for (const b of batches(files)) {
    const r = await runBulwark(bin, [sub, ...flags, ...b]);
    if (r.signal || r.code === null || r.code >= 2) {
      throw new Error(`bulwark ${sub} failed (exit ${r.code}${r.signal ? ', signal ' + r.signal : ''}): ${r.stderr.trim().slice(0, 2000)}`);
    }
    const got = parseJsonLines(r.stdout, `bulwark ${sub}`);
    if (got.length !== b.length) {
      throw new Error(`bulwark ${sub}: ${b.length} files gave ${got.length} JSON lines (expected one per message)`);
    }
    objs.push(...got);
  }
  return objs;
}

// Turns `bulwark html` objects into render items, one per text/html part.
export function htmlItems(objs) {
  const items = [];
  for (const o of objs) {
    const parts = Array.isArray(o.parts) ? o.parts : [];
    parts.forEach((html, n) => items.push({ id: `${o.source}#part${n + 1}`, source: o.source, html: String(html) }));
  }
  return items;
}

export function tempDir(prefix) {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function closingLine(passed, failed) {
  return `${passed} passed, ${failed} failed`;
}
