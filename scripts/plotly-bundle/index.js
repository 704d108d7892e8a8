'use strict';
// GridCommand's plotly.js: only the trace types the app draws (README.md here says why and how to add one).
var Plotly = require('plotly.js/lib/core');
Plotly.register([
    require('plotly.js/lib/bar'),
    require('plotly.js/lib/funnel'),
    require('plotly.js/lib/scatterpolar'),
    require('plotly.js/lib/scattermap'),
    require('plotly.js/lib/choroplethmap')
]);
module.exports = Plotly;
