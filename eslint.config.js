// ESLint for the browser code (dashboard/assets, served as plain scripts, no bundler) and its node tests.
// Run by scripts/test.sh: `npx eslint` (this file is found at the repository root).
"use strict";
const js = require("@eslint/js");
const globals = require("globals");

// what the page scripts share through window: each is defined by one asset and read by the others
const PAGE_GLOBALS = {
  io: "readonly",              // 00-socket.io.min.js
  GCDom: "readonly",           // 08-gc-dom.js
  GCGeo: "readonly",           // 09-gc-geo.js
  GCLive: "readonly",          // 10-gc-live.js
  Plotly: "readonly",          // static/vendor/plotly-gc.min.js, loaded on demand
  Hls: "readonly",             // static/vendor/hls.min.js, loaded on demand
  dash_clientside: "readonly", // Dash
};

module.exports = [
  {
    // vendored, minified: not ours to lint
    ignores: ["dashboard/assets/00-socket.io.min.js", "dashboard/static/vendor/**", "**/node_modules/**",
              "bench/out/**", "var/**"],
  },
  js.configs.recommended,
  {
    files: ["dashboard/assets/**/*.js", "dashboard/static/**/*.js"],
    languageOptions: {
      ecmaVersion: 2020,
      sourceType: "script",
      globals: { ...globals.browser, ...PAGE_GLOBALS, module: "readonly" },  // module: the node tests' export hook
    },
  },
  {
    files: ["tests/js/**/*.js", "scripts/**/*.js", "eslint.config.js"],
    languageOptions: { ecmaVersion: 2022, sourceType: "commonjs", globals: { ...globals.node } },
  },
];
