// plotly.js core (with scatter) plus the two trace types JobDash draws; no calendars, no locales.
var Plotly = require('plotly.js/lib/core');

Plotly.register([require('plotly.js/lib/bar'), require('plotly.js/lib/pie')]);

module.exports = Plotly;
