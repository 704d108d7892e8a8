// Takes every outside host plotly.js could make a page contact out of the bundle: GridCommand's maps
// bring their own style (no tiles unless GC_TILE_URL is set), so plotly's basemap presets (Carto, OSM,
// Esri/ICGC satellite), its font-URL rewrites, the maki icon CDN, the topojson CDN, the "send to cloud"
// URL and the logo links are replaced here. Each edit names the exact text (or shape) it replaces
// and the build fails if plotly.js no longer has it (review the edit when plotly.js is upgraded).
const fs = require('fs');
const path = require('path');

// plotly's basemap presets, from its first require to the line before styleValuesMap, become one offline style
const OFFLINE_STYLES = `var stylesMap = {
    'white-bg': {
        id: 'white-bg', version: 8, sources: {},
        layers: [{ id: 'white-bg', type: 'background', paint: { 'background-color': '#FFFFFF' }, minzoom: 0, maxzoom: 22 }]
    }
};  // GridCommand: no network presets (scripts/plotly-bundle/offline.js)

`;
const PRESETS_FROM = "var arcgisSatHybrid = require('./styles/arcgis-sat-hybrid');";
const PRESETS_TO = 'var styleValuesMap = sortObjectKeys(stylesMap);';

// file (relative to node_modules) -> [[exact old text, new text], ...]; every occurrence is replaced
const EDITS = {
    'maplibre-gl/dist/maplibre-gl.mjs': [
        ['https://maplibre.org/', '#'],  // the logo/attribution link (plotly turns both controls off anyway)
        [' Read more on https://wiki.openstreetmap.org/wiki/This_map_requires_WebGL', '']
    ],
    'plotly.js/src/plots/map/map.js': [
        // the maki icon CDN and the font-name rewrites for Carto/OpenMapTiles glyph servers; matched by shape so
        // this file names no outside host itself (a RegExp must match at least once, like a text)
        [/img\.src = `https:\/\/[^`]*\/maki@[^`]*\.svg`;/g, 'resolve();  // no icon CDN'],
        [/( *url = url\.replace\(\s*'https:\/\/[^']*',\s*'https:\/\/[^']*'\s*\);\n){3}/g, '']
    ],
    'plotly.js/src/plots/map/constants.js': [["styleValueDflt: 'basic',", "styleValueDflt: 'white-bg',"]],
    'plotly.js/src/plot_api/plot_config.js': [
        ["dflt: 'https://cloud.plotly.com/newchart',", "dflt: '',"],
        ["dflt: 'https://cdn.plot.ly/un/',", "dflt: '/vendor/topojson/',"]
    ],
    'plotly.js/src/components/modebar/modebar.js': [["a.href = 'https://plotly.com/';", "a.href = '#';"]],
};

function offlinePlugin(nodeModules) {
    return {
        name: 'gridcommand-offline',
        setup(build) {
            const seen = new Set();
            build.onLoad({ filter: /(plotly\.js[\\/]src[\\/].*\.js|maplibre-gl[\\/]dist[\\/].*\.mjs)$/ }, (args) => {
                const rel = path.relative(nodeModules, args.path).split(path.sep).join('/');
                const edits = EDITS[rel];
                if (!edits) { return undefined; }
                seen.add(rel);
                let text = fs.readFileSync(args.path, 'utf8');
                if (rel === 'plotly.js/src/plots/map/constants.js') {
                    const a = text.indexOf(PRESETS_FROM), b = text.indexOf(PRESETS_TO);
                    if (a < 0 || b < a) { throw new Error('plotly.js/src/plots/map/constants.js changed: review offline.js'); }
                    text = text.slice(0, a) + OFFLINE_STYLES + text.slice(b);
                }
                for (const [from, to] of edits) {
                    const found = from instanceof RegExp ? (text.match(from) || []).length : text.includes(from);
                    if (!found) { throw new Error(`${rel}: expected text not found, review offline.js: ${String(from).slice(0, 80)}`); }
                    text = from instanceof RegExp ? text.replace(from, to) : text.split(from).join(to);
                }
                return { contents: text, loader: 'js' };
            });
            build.onEnd((result) => {  // an edit whose file was never bundled is an edit that silently did nothing
                const missed = Object.keys(EDITS).filter((f) => !seen.has(f));
                if (missed.length && !result.errors.length) { throw new Error('never loaded, review offline.js: ' + missed); }
            });
        }
    };
}

module.exports = { offlinePlugin, EDITS };
