// Builds the bundle the way plotly.js builds its own dist files (its esbuild-config.js), minified.
const esbuild = require('esbuild');
const { environmentPlugin } = require('esbuild-plugin-environment');
const { glsl } = require('esbuild-plugin-glsl');
const InlineCSSPlugin = require('esbuild-plugin-inline-css');
const path = require('path');
const { offlinePlugin } = require('./offline');
const version = require('plotly.js/package.json').version;

esbuild.build({
    entryPoints: ['./index.js'],
    outfile: process.argv[2] || 'plotly-gc.min.js',
    format: 'iife',
    globalName: 'Plotly',
    bundle: true,
    minify: true,
    sourcemap: false,
    legalComments: 'eof',  // plotly.js (MIT) and MapLibre (BSD-3-Clause) notices stay in the file
    banner: { js: `/* plotly.js v${version} (MIT), GridCommand partial bundle: scripts/plotly-bundle */` },
    plugins: [offlinePlugin(path.join(__dirname, 'node_modules')),
              InlineCSSPlugin(), glsl({ minify: true }), environmentPlugin({ NODE_DEBUG: false })],
    alias: { regl: '@plotly/regl', stream: 'stream-browserify' },
    define: { global: 'window', 'define.amd': 'false' },
    target: 'es2016',
    logLevel: 'info'
}).then(() => {
    // What is left of URLs in the code are links in help texts and warnings (plotly's attribute descriptions,
    // d3/MDN docs); they are never fetched, but a page's script should name no outside host at all: keep them as
    // plain text. XML namespace names are identifiers SVG needs, and the licence notices at the end stay whole.
    const fs = require('fs');
    const out = process.argv[2] || 'plotly-gc.min.js';
    const text = fs.readFileSync(out, 'utf8');
    const cut = text.indexOf('/*! Bundled license information:');
    const code = text.slice(0, cut < 0 ? text.length : cut);
    const keep = /^https?:\/\/www\.w3\.org\/(2000\/svg|2000\/xmlns\/|1999\/xlink|XML\/1998\/namespace|1999\/xhtml)/;
    const cleaned = code.replace(/https?:\/\/[^\s"'`<>)\]]+/g, (url) => (keep.test(url) ? url : url.replace(/^https?:\/\//, '')));
    fs.writeFileSync(out, cleaned + text.slice(code.length));
}).catch((e) => { console.error(e); process.exit(1); });
