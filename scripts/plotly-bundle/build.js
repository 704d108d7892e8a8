// Builds the bundle the way plotly.js builds its own dist files (its esbuild-config.js), minified.
const esbuild = require('esbuild');
const { environmentPlugin } = require('esbuild-plugin-environment');
const { glsl } = require('esbuild-plugin-glsl');
const InlineCSSPlugin = require('esbuild-plugin-inline-css');
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
    plugins: [InlineCSSPlugin(), glsl({ minify: true }), environmentPlugin({ NODE_DEBUG: false })],
    alias: { regl: '@plotly/regl', stream: 'stream-browserify' },
    define: { global: 'window', 'define.amd': 'false' },
    target: 'es2016',
    logLevel: 'info'
}).catch(() => process.exit(1));
