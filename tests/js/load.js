// Run a page script from dashboard/assets in a fresh context whose `window` is the context itself, the way a
// browser runs it, with only the globals a test hands in. The page code is loaded unchanged: what it puts on
// `window` (GCLive, GCWallMap, …) is what the test reads.
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const vm = require("node:vm");

// GC_JS_ASSETS: run the tests against another copy (to see them fail on a broken one)
const ASSETS = process.env.GC_JS_ASSETS || path.join(__dirname, "..", "..", "dashboard", "assets");

function loadAssets(names, globals) {
  const ctx = vm.createContext({ console, Math, JSON, Promise, Map, Set, Date, ...globals });
  ctx.window = ctx;
  for (const name of names) {
    const file = path.join(ASSETS, name);
    vm.runInContext(fs.readFileSync(file, "utf8"), ctx, { filename: file });
  }
  return ctx;
}

module.exports = { loadAssets, ASSETS };
