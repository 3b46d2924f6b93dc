#!/usr/bin/env node
// Renders a catalogue of small HTML cases under the four display profiles and
// prints what Chromium (scripting off) requests for each, as a Markdown table.
// This is where the behaviour table of README.md comes from; re-run it after a
// Chromium upgrade:   node probe.mjs [--json] [--only SUBSTRING]
//
// Every profile is rendered from scratch here (a fresh page each), so the
// per-profile columns are complete, not just what a colour-scheme switch added.

import { Renderer, PROFILE_SETS, parseArgs, runSelfChecks } from './lib.mjs';

const D = '<!doctype html><html><head><meta charset=utf-8>';
const B = '</head><body>';
const E = '</body></html>';
const tall = '<div style="height:6000px">tall spacer</div>';

export const CASES = [
  ['link rel=icon', `${D}<link rel=icon href="http://h.example/icon.ico">${B}x${E}`],
  ['link rel="shortcut icon" / apple-touch-icon', `${D}<link rel="shortcut icon" href="http://h.example/s.ico"><link rel=apple-touch-icon href="http://h.example/t.png">${B}x${E}`],
  ['link rel=stylesheet', `${D}<link rel=stylesheet href="http://h.example/s.css">${B}x${E}`],
  ['link rel=stylesheet media=print', `${D}<link rel=stylesheet media=print href="http://h.example/p.css">${B}x${E}`],
  ['link rel="alternate stylesheet"', `${D}<link rel="alternate stylesheet" title=alt href="http://h.example/alt.css">${B}x${E}`],
  ['link rel=preload as=image', `${D}<link rel=preload as=image href="http://h.example/pre.png">${B}x${E}`],
  ['link rel=preload as=style', `${D}<link rel=preload as=style href="http://h.example/pre.css">${B}x${E}`],
  ['link rel=preload as=font crossorigin', `${D}<link rel=preload as=font crossorigin href="http://h.example/pre.woff2">${B}x${E}`],
  ['link rel=preload as=fetch', `${D}<link rel=preload as=fetch crossorigin href="http://h.example/pre.json">${B}x${E}`],
  ['link rel=preload (no as)', `${D}<link rel=preload href="http://h.example/pre-noas">${B}x${E}`],
  ['link rel=modulepreload', `${D}<link rel=modulepreload href="http://h.example/m.js">${B}x${E}`],
  ['link rel=prefetch', `${D}<link rel=prefetch href="http://h.example/prefetch">${B}x${E}`],
  ['link rel=dns-prefetch', `${D}<link rel=dns-prefetch href="http://dns.example/">${B}x${E}`],
  ['link rel=preconnect', `${D}<link rel=preconnect href="http://pc.example/">${B}x${E}`],
  ['link rel=manifest', `${D}<link rel=manifest href="http://h.example/m.webmanifest">${B}x${E}`],
  ['link rel=prerender / next', `${D}<link rel=prerender href="http://h.example/prerender"><link rel=next href="http://h.example/next">${B}x${E}`],
  ['script src (scripting off)', `${D}<script src="http://h.example/s.js"></script>${B}x${E}`],
  ['video src poster', `${D}${B}<video src="http://h.example/v.mp4" poster="http://h.example/poster.png"></video>${E}`],
  ['video preload=none src poster', `${D}${B}<video preload=none src="http://h.example/v.mp4" poster="http://h.example/poster.png"></video>${E}`],
  ['video > source, track', `${D}${B}<video><source src="http://h.example/s.mp4" type=video/mp4><track kind=captions src="http://h.example/t.vtt" default></video>${E}`],
  ['audio src', `${D}${B}<audio src="http://h.example/a.mp3"></audio>${E}`],
  ['audio controls src', `${D}${B}<audio controls src="http://h.example/a.mp3"></audio>${E}`],
  ['object data (image)', `${D}${B}<object data="http://h.example/o.png" type=image/png></object>${E}`],
  ['object data (no type)', `${D}${B}<object data="http://h.example/o"></object>${E}`],
  ['object data + img fallback inside', `${D}${B}<object data="http://h.example/o2.png" type=image/png><img src="http://h.example/obj-fallback.png"></object>${E}`],
  ['embed src', `${D}${B}<embed src="http://h.example/e.svg" type=image/svg+xml>${E}`],
  ['embed src (no type)', `${D}${B}<embed src="http://h.example/e">${E}`],
  ['iframe src', `${D}${B}<iframe src="http://h.example/f.html"></iframe>${E}`],
  ['iframe sandbox src', `${D}${B}<iframe sandbox src="http://h.example/sandboxed.html"></iframe>${E}`],
  ['iframe src, display:none', `${D}${B}<iframe style="display:none" src="http://h.example/hidden.html"></iframe>${E}`],
  ['iframe loading=lazy below fold', `${D}${B}${tall}<iframe loading=lazy src="http://h.example/lazy.html"></iframe>${E}`],
  ['iframe srcdoc with img', `${D}${B}<iframe srcdoc="<img src=http://h.example/srcdoc.png>"></iframe>${E}`],
  ['frameset frame src', `${D}</head><frameset><frame src="http://h.example/frame.html"></frameset></html>`],
  ['meta refresh 0;url=', `${D}<meta http-equiv=refresh content="0;url=http://h.example/refresh">${B}x${E}`],
  ['meta refresh 0;url= in body', `${D}${B}x<meta http-equiv=refresh content="0; URL='http://h.example/refresh-body'">${E}`],
  ['meta refresh 5;url=', `${D}<meta http-equiv=refresh content="5;url=http://h.example/refresh5">${B}x${E}`],
  ['input type=image src', `${D}${B}<form><input type=image src="http://h.example/input.png"></form>${E}`],
  ['input type=image hidden', `${D}${B}<input type=image style="display:none" src="http://h.example/input-hidden.png">${E}`],
  ['svg <image href>', `${D}${B}<svg width=10 height=10><image href="http://h.example/svg-href.png" width=10 height=10 /></svg>${E}`],
  ['svg <image xlink:href>', `${D}${B}<svg width=10 height=10 xmlns:xlink="http://www.w3.org/1999/xlink"><image xlink:href="http://h.example/svg-xlink.png" width=10 height=10 /></svg>${E}`],
  ['svg <use href> external', `${D}${B}<svg width=10 height=10><use href="http://h.example/sprite.svg#a"/></svg>${E}`],
  ['svg feImage', `${D}${B}<svg width=10 height=10><filter id=f><feImage href="http://h.example/feimage.png"/></filter><rect width=10 height=10 filter="url(#f)"/></svg>${E}`],
  ['@import in <style>', `${D}<style>@import url(http://h.example/imp.css); p{color:red}</style>${B}x${E}`],
  ['@import "string" media print', `${D}<style>@import "http://h.example/imp-print.css" print;</style>${B}x${E}`],
  ['@import after a rule (invalid)', `${D}<style>p{color:red} @import url(http://h.example/imp-late.css);</style>${B}x${E}`],
  ['@font-face used', `${D}<style>@font-face{font-family:F;src:url(http://h.example/used.woff2) format("woff2")} p{font-family:F}</style>${B}<p>text</p>${E}`],
  ['@font-face unused', `${D}<style>@font-face{font-family:G;src:url(http://h.example/unused.woff2)}</style>${B}<p>text</p>${E}`],
  ['@font-face, two src (local first)', `${D}<style>@font-face{font-family:F;src:local("Nope Font"),url(http://h.example/f1.woff2),url(http://h.example/f2.ttf)} p{font-family:F}</style>${B}<p>text</p>${E}`],
  ['@font-face src: .eot (no format) then .woff', `${D}<style>@font-face{font-family:F;src:url(http://h.example/a.eot),url(http://h.example/a.woff) format("woff")} p{font-family:F}</style>${B}<p>text</p>${E}`],
  ['@font-face format(embedded-opentype) then woff2', `${D}<style>@font-face{font-family:F;src:url(http://h.example/b.eot?#iefix) format("embedded-opentype"),url(http://h.example/b.woff2) format("woff2")} p{font-family:F}</style>${B}<p>text</p>${E}`],
  ['@font-face two src declarations', `${D}<style>@font-face{font-family:F;src:url(http://h.example/first-decl.woff);src:url(http://h.example/second-decl.woff)} p{font-family:F}</style>${B}<p>text</p>${E}`],
  ['@font-face unicode-range (latin used, cyrillic not)', `${D}<style>@font-face{font-family:F;src:url(http://h.example/cyr.woff2);unicode-range:U+0400-045F} @font-face{font-family:F;src:url(http://h.example/latin.woff2);unicode-range:U+0000-00FF} p{font-family:F}</style>${B}<p>text</p>${E}`],
  ['@font-face weight not used', `${D}<style>@font-face{font-family:F;font-weight:700;src:url(http://h.example/bold.woff2)} @font-face{font-family:F;font-weight:400;src:url(http://h.example/regular.woff2)} p{font-family:F}</style>${B}<p>text</p>${E}`],
  ['@font-face used by element with no text', `${D}<style>@font-face{font-family:F;src:url(http://h.example/notext.woff2)} p{font-family:F}</style>${B}<p></p>${E}`],
  ['background on display:none parent\'s child', `${D}${B}<div style="display:none"><div style="background:url(http://h.example/child-bg.png)">x</div></div>${E}`],
  ['background on display:none element', `${D}${B}<div style="display:none;background:url(http://h.example/none-bg.png)">x</div>${E}`],
  ['background, visibility:hidden', `${D}${B}<div style="visibility:hidden;background:url(http://h.example/vis-bg.png)">x</div>${E}`],
  ['background on empty 0×0 div', `${D}${B}<div style="background:url(http://h.example/empty-bg.png)"></div>${E}`],
  ['background in unused CSS rule', `${D}<style>.nope{background:url(http://h.example/unused-rule.png)}</style>${B}x${E}`],
  ['@media (max-width:600px) background', `${D}<style>@media (max-width:600px){body{background:url(http://h.example/mobile-bg.png)}} @media (min-width:601px){body{background:url(http://h.example/desktop-bg.png)}}</style>${B}x${E}`],
  ['@media (max-width:600px) background + meta viewport', `${D}<meta name=viewport content="width=device-width, initial-scale=1"><style>@media (max-width:600px){body{background:url(http://h.example/mobile-bg.png)}} @media (min-width:601px){body{background:url(http://h.example/desktop-bg.png)}}</style>${B}x${E}`],
  ['<style media=print> background', `${D}<style media=print>body{background:url(http://h.example/style-print-bg.png)}</style>${B}x${E}`],
  ['@media print background', `${D}<style>@media print{body{background:url(http://h.example/print-bg.png)}}</style>${B}x${E}`],
  ['prefers-color-scheme: dark background', `${D}<style>@media (prefers-color-scheme: dark){body{background:url(http://h.example/dark-bg.png)}} @media (prefers-color-scheme: light){div{background:url(http://h.example/light-bg.png)}}</style>${B}<div>x</div>${E}`],
  ['body background=', `${D}</head><body background="http://h.example/body-attr.png">x${E}`],
  ['table background= (no CSS)', `${D}${B}<table background="http://h.example/table-attr.png"><tr><td>x</td></tr></table>${E}`],
  ['table background= + CSS background-image', `${D}${B}<table background="http://h.example/table-attr2.png" style="background-image:url(http://h.example/table-css.png)"><tr><td>x</td></tr></table>${E}`],
  ['td background=', `${D}${B}<table><tr><td background="http://h.example/td-attr.png">x</td></tr></table>${E}`],
  ['CSS content/list-style/cursor/border-image', `${D}${B}<p style="list-style-image:url(http://h.example/list.png);display:list-item;cursor:url(http://h.example/cur.png),auto;border:5px solid;border-image:url(http://h.example/border.png) 30">x</p><p style="&quot;"></p><span style="content:url(http://h.example/content.png)"></span><p class=a>y</p><style>.a::before{content:url(http://h.example/before.png)}</style>${E}`],
  ['CSS image-set()', `${D}${B}<div style="background-image:image-set(url(http://h.example/is1.png) 1x, url(http://h.example/is2.png) 2x)">x</div>${E}`],
  ['CSS mask-image', `${D}${B}<div style="-webkit-mask-image:url(http://h.example/mask.png);mask-image:url(http://h.example/mask2.png)">x</div>${E}`],
  ['img srcset 1x/2x', `${D}${B}<img src="http://h.example/src.png" srcset="http://h.example/x1.png 1x, http://h.example/x2.png 2x">${E}`],
  ['img srcset without src', `${D}${B}<img srcset="http://h.example/only1.png 1x, http://h.example/only2.png 2x">${E}`],
  ['img srcset w + sizes, meta viewport', `${D}<meta name=viewport content="width=device-width">${B}<img src="http://h.example/wsrc.png" srcset="http://h.example/w400.png 400w, http://h.example/w800.png 800w, http://h.example/w1600.png 1600w" sizes="100vw">${E}`],
  ['link rel=preload as=image imagesrcset', `${D}<link rel=preload as=image href="http://h.example/pre-href.png" imagesrcset="http://h.example/pre1.png 1x, http://h.example/pre2.png 2x">${B}x${E}`],
  ['img srcset w + sizes', `${D}${B}<img src="http://h.example/wsrc.png" srcset="http://h.example/w400.png 400w, http://h.example/w800.png 800w, http://h.example/w1600.png 1600w" sizes="100vw">${E}`],
  ['picture source media', `${D}${B}<picture><source srcset="http://h.example/pic-narrow.png" media="(max-width:600px)"><source srcset="http://h.example/pic-dark.png" media="(prefers-color-scheme: dark)"><img src="http://h.example/pic-img.png"></picture>${E}`],
  ['picture source media, meta viewport', `${D}<meta name=viewport content="width=device-width">${B}<picture><source srcset="http://h.example/pic-narrow.png" media="(max-width:600px)"><img src="http://h.example/pic-img.png"></picture>${E}`],
  ['picture source type=image/jxl first', `${D}${B}<picture><source srcset="http://h.example/pic.jxl" type="image/jxl"><source srcset="http://h.example/pic.webp" type="image/webp"><img src="http://h.example/pic-fallback.png"></picture>${E}`],
  ['picture source type unknown, then webp', `${D}${B}<picture><source srcset="http://h.example/pic.xyz" type="image/x-unknown"><source srcset="http://h.example/pic2.webp" type="image/webp"><img src="http://h.example/pic2-fallback.png"></picture>${E}`],
  ['img with user@host', `${D}${B}<img src="http://user@h.example/x.png"><img src="http://user:pw@h.example/y.png">${E}`],
  ['img http://0x7f.1/', `${D}${B}<img src="http://0x7f.1/">${E}`],
  ['img http:host/x', `${D}${B}<img src="http:h.example/x">${E}`],
  ['img https:\\\\host\\x, tabs/newlines in URL', `${D}${B}<img src="https:\\\\h.example\\bs.png"><img src="ht\ntp://h.example/n\tl.png">${E}`],
  ['img URL with space, non-ASCII, IDN, uppercase', `${D}${B}<img src=" http://H.Example/a b/é.png?q=ü "><img src="http://bücher.example/i.png">${E}`],
  ['img src with &amp; entities', `${D}${B}<img src="http://h.example/e.png?a=1&amp;b=2&copy=3">${E}`],
  ['img on restricted port (:25)', `${D}${B}<img src="http://h.example:25/port.png">${E}`],
  ['img to private/loopback IPs', `${D}${B}<img src="http://127.0.0.1/lo.png"><img src="http://10.0.0.1/ten.png"><img src="http://[::1]/v6.png">${E}`],
  ['img loading=lazy far below the fold', `${D}${B}${tall}<img loading=lazy src="http://h.example/lazy.png">${E}`],
  ['img far below the fold (eager)', `${D}${B}${tall}<img src="http://h.example/below.png">${E}`],
  ['img width=0 height=0 / 1×1 pixel', `${D}${B}<img width=0 height=0 src="http://h.example/zero.png"><img width=1 height=1 src="http://h.example/one.png">${E}`],
  ['img src=cid:', `${D}${B}<img src="cid:part1@example">${E}`],
  ['img inside <template>', `${D}${B}<template><img src="http://h.example/template.png"></template>${E}`],
  ['img inside <noscript>', `${D}${B}<noscript><img src="http://h.example/noscript.png"></noscript>${E}`],
  ['<image> tag (parsed as img)', `${D}${B}<image src="http://h.example/image-tag.png">${E}`],
  ['img inside html comment / textarea', `${D}${B}<!-- <img src="http://h.example/comment.png"> --><textarea><img src="http://h.example/textarea.png"></textarea>${E}`],
  ['base href + relative', `${D}<base href="http://base.example/dir/">${B}<img src="rel.png"><img src="/root.png"><img src="//other.example/p.png">${E}`],
  ['relative URL without base', `${D}${B}<img src="rel.png"><img src="/root.png"><img src="//other.example/p.png"><img src="?q">${E}`],
  ['a ping / link href (no click)', `${D}${B}<a href="http://h.example/link" ping="http://h.example/ping">link</a>${E}`],
  ['form action (no submit)', `${D}${B}<form action="http://h.example/form"><input name=a></form>${E}`],
  ['style attribute with escapes', `${D}${B}<div style="background:url('http://h.example/esc\\2e png')">x</div><div style="background:u\\72l(http://h.example/esc2.png)">y</div>${E}`],
];

function summarize(r, profiles) {
  // Group profiles with identical request lists.
  const groups = new Map();
  for (const p of profiles) {
    const key = JSON.stringify([...(r.profiles[p]?.requests || [])].sort());
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(p);
  }
  const parts = [];
  for (const [key, ps] of groups) {
    const urls = JSON.parse(key);
    const txt = urls.length ? urls.map((u) => u.replace('http://h.example', '…')).join(', ') : 'nothing';
    parts.push(groups.size === 1 ? txt : `${ps.join('+')}: ${txt}`);
  }
  let s = parts.join('; ');
  if (r.blocked.length) {
    const by = new Map();
    for (const b of r.blocked) { if (!by.has(b.why)) by.set(b.why, new Set()); by.get(b.why).add(b.url.replace('http://h.example', '…')); }
    s += '; ' + [...by].map(([why, us]) => `announced but not sent (${why}): ${[...us].join(', ')}`).join('; ');
  }
  return s;
}

async function main() {
  const a = parseArgs(process.argv.slice(2), { json: { type: 'bool', default: false }, only: { type: 'string', default: '' }, 'settle-ms': { type: 'number', default: 300 } });
  const profiles = PROFILE_SETS.all;
  // reload: every profile renders the HTML from scratch, so each column is complete.
  const renderer = await Renderer.launch({ profiles, reload: true, freshContext: true, settleMs: a['settle-ms'], maxWaitMs: 3000, concurrency: 2 });
  try {
    await runSelfChecks(renderer);
    const cases = CASES.filter(([n]) => n.toLowerCase().includes(a.only.toLowerCase()));
    const results = await renderer.renderAll(cases.map(([id, html]) => ({ id, html })));
    if (a.json) {
      for (const r of results) console.log(JSON.stringify({ id: r.id, html: cases.find((c) => c[0] === r.id)[1], requests: r.requests, profiles: Object.fromEntries(Object.entries(r.profiles).map(([k, v]) => [k, v.requests])), lateMs: Math.max(...Object.values(r.profiles).map((v) => v.lateMs)), blocked: r.blocked, errors: r.errors }));
      return 0;
    }
    console.log('| case | Chromium requests (… = http://h.example) |');
    console.log('|---|---|');
    for (const r of results) console.log(`| ${r.id.replace(/\|/g, '\\|')} | ${summarize(r, profiles).replace(/\|/g, '\\|')} |`);
  } finally {
    await renderer.close();
  }
  return 0;
}

main().then((c) => process.exit(c), (e) => { console.error(e.stack || e); process.exit(2); });
