/* JobDash charts: the dict figures of dashboard/figures.py drawn as SVG in the browser, without plotly.js.
 *
 * A chart's figure ({data, layout}, as plotly.js reads it) travels in a dcc.Store; the clientside callback
 * `charts.draw` draws it into the chart's <div>, which Dash itself never fills. The trace types drawn here
 * are those the dashboard uses: bars (vertical, stacked or overlaid; horizontal with a base, as in a
 * timeline), pie and donut, scatter markers and lines, and heatmaps, on date, category or linear axes,
 * with the layout's legend, annotations, grid and axis titles. A figure with any other trace type is
 * handed to plotly.js, loaded then (and only then) from where Dash would load it.
 *
 * Hover details follow each trace's `hovertemplate` (or `name: value`), in a tooltip set as text, never as
 * HTML. Every chart is an `<svg role="img">` whose accessible name says what it shows: the chart's title
 * and its points' texts (or, for many points, each series' total), so a screen reader gets the figures.
 */
(function () {
    "use strict";

    const NS = "http://www.w3.org/2000/svg";
    const DRAWN_TYPES = {bar: true, pie: true, scatter: true, heatmap: true};
    const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MINUTE = 60000;
    const HOUR = 60 * MINUTE;
    const DAY = 24 * HOUR;
    // Tick spacings for a date axis, finest first; months and years are calendar steps.
    const DATE_STEPS = [
        MINUTE, 5 * MINUTE, 15 * MINUTE, 30 * MINUTE, HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR,
        DAY, 2 * DAY, 7 * DAY, 14 * DAY, 30 * DAY, 91 * DAY, 182 * DAY, 365 * DAY,
    ];
    const SPOKEN_POINTS = 30; // above this many points, the accessible name gives each series' total

    function node(tag, attributes, parent) {
        const element = document.createElementNS(NS, tag);
        Object.keys(attributes || {}).forEach(function (name) {
            const value = attributes[name];
            if (value !== undefined && value !== null) {
                element.setAttribute(name, String(value));
            }
        });
        if (parent) {
            parent.appendChild(element);
        }
        return element;
    }

    // ------------------------------------------------------------------------------------ values, text

    // Plotly's date text (`2026-01-31 14:05:09`, a date alone, or ISO with a zone) as ms since the epoch;
    // text without a zone is read as UTC, which is how the figures send times.
    function toTime(value) {
        if (typeof value === "number") {
            return value;
        }
        const text = String(value).trim().replace(" ", "T");
        if (/([zZ]|[+-]\d\d:?\d\d)$/.test(text.slice(10))) {
            return Date.parse(text);
        }
        return Date.parse(text.length <= 10 ? text + "T00:00:00Z" : text + "Z");
    }

    function pad(number) {
        return (number < 10 ? "0" : "") + number;
    }

    // The strftime subset plotly's hover templates use, in UTC.
    function formatDate(ms, pattern) {
        const d = new Date(ms);
        const parts = {
            Y: String(d.getUTCFullYear()),
            m: pad(d.getUTCMonth() + 1),
            d: pad(d.getUTCDate()),
            e: String(d.getUTCDate()),
            H: pad(d.getUTCHours()),
            M: pad(d.getUTCMinutes()),
            S: pad(d.getUTCSeconds()),
            b: MONTHS[d.getUTCMonth()],
            a: DAYS[d.getUTCDay()],
            "%": "%",
        };
        return pattern.replace(/%([YmdeHMSba%])/g, function (_, code) {
            return parts[code];
        });
    }

    const numberFormats = {};

    // An Intl.NumberFormat per distinct option set, made once (making one costs far more than using it).
    function numberFormat(digits, fixed, grouping) {
        const key = [digits, fixed, grouping].join();
        if (!numberFormats[key]) {
            numberFormats[key] = new Intl.NumberFormat("en-US", {
                minimumFractionDigits: fixed ? digits : 0,
                maximumFractionDigits: digits,
                useGrouping: grouping,
            });
        }
        return numberFormats[key];
    }

    function formatNumber(value, format) {
        const number = Number(value);
        if (!isFinite(number)) {
            return String(value);
        }
        const fixed = /^,?\.(\d+)([f%])$/.exec(format || "");
        if (fixed) {
            const scaled = fixed[2] === "%" ? number * 100 : number;
            const text = numberFormat(Number(fixed[1]), true, format.charAt(0) === ",").format(scaled);
            return fixed[2] === "%" ? text + "%" : text;
        }
        return numberFormat(6, false, true).format(number);
    }

    function formatPercent(share) {
        return numberFormat(1, false, true).format(Math.round(share * 1000) / 10) + "%";
    }

    // A hover template filled with one point's values: `%{y:,}`, `%{base|%Y-%m-%d}`, `%{customdata[0]}`.
    // Returns its lines as plain text (tags such as <b> dropped; <extra> left out).
    function fillTemplate(template, point) {
        const filled = template
            .replace(/<extra>[\s\S]*?<\/extra>/g, "")
            .replace(/%\{([^}|:]+)(?::([^}|]*))?(?:\|([^}]*))?\}/g, function (_, path, numberFormat, dateFormat) {
                let value = point;
                path.replace(/\]/g, "").split(/[.[]/).forEach(function (key) {
                    value = value === undefined || value === null ? undefined : value[key];
                });
                if (value === undefined || value === null) {
                    return "";
                }
                if (dateFormat !== undefined) {
                    const ms = toTime(value);
                    return isNaN(ms) ? String(value) : formatDate(ms, dateFormat);
                }
                if (path === "percent") {
                    return numberFormat ? formatNumber(value, numberFormat) : formatPercent(value);
                }
                if (typeof value === "number") {
                    return formatNumber(value, numberFormat);
                }
                return String(value);
            });
        return filled
            .split(/<br\s*\/?>/i)
            .map(function (line) {
                return line.replace(/<[^>]*>/g, "").trim();
            })
            .filter(Boolean);
    }

    function traceName(trace, index) {
        return trace.name !== undefined ? String(trace.name) : "trace " + index;
    }

    // ----------------------------------------------------------------------------------------- axes

    function niceStep(span, count) {
        const raw = span / Math.max(1, count);
        const power = Math.pow(10, Math.floor(Math.log10(raw)));
        const error = raw / power;
        return power * (error >= 7.07 ? 10 : error >= 3.16 ? 5 : error >= 1.41 ? 2 : 1);
    }

    function linearTicks(low, high, count) {
        if (!(high > low)) {
            return [low];
        }
        const step = niceStep(high - low, count);
        const ticks = [];
        for (let value = Math.ceil(low / step) * step; value <= high + step * 1e-9; value += step) {
            ticks.push(Math.round(value / step) * step);
        }
        return ticks;
    }

    function dateTicks(low, high, count) {
        const step = DATE_STEPS.find(function (candidate) {
            return (high - low) / candidate <= count;
        }) || DATE_STEPS[DATE_STEPS.length - 1];
        const ticks = [];
        if (step >= 30 * DAY) {
            const months = step >= 365 * DAY ? 12 : Math.round(step / (30 * DAY));
            const start = new Date(low);
            let year = start.getUTCFullYear();
            let month = start.getUTCMonth();
            month = Math.ceil(month / months) * months;
            for (let t = Date.UTC(year, month, 1); t <= high; t = Date.UTC(year, month, 1)) {
                if (t >= low) {
                    ticks.push(t);
                }
                month += months;
                year += Math.floor(month / 12);
                month %= 12;
            }
        } else {
            // Weeks start on Sundays (3 days after the epoch's Thursday), as plotly's do.
            const origin = step === 7 * DAY || step === 14 * DAY ? 3 * DAY : 0;
            for (let t = Math.ceil((low - origin) / step) * step + origin; t <= high; t += step) {
                ticks.push(t);
            }
        }
        return {ticks: ticks, step: step};
    }

    // Each tick's label lines: the time of day, with the date under the first tick of each day; or the
    // date, with the year under the first tick.
    function dateTickLabels(ticks, step) {
        let lastDay = null;
        return ticks.map(function (t, index) {
            const day = formatDate(t, "%b %e");
            if (step < DAY) {
                const lines = [formatDate(t, "%H:%M")];
                if (day !== lastDay) {
                    lines.push(day);
                }
                lastDay = day;
                return lines;
            }
            if (step >= 365 * DAY) {
                return [formatDate(t, "%Y")];
            }
            if (step >= 30 * DAY) {
                return index === 0 ? [formatDate(t, "%b"), formatDate(t, "%Y")] : [formatDate(t, "%b")];
            }
            return index === 0 ? [day, formatDate(t, "%Y")] : [day];
        });
    }

    function scale(domain, range) {
        const span = domain[1] - domain[0] || 1;
        return function (value) {
            return range[0] + ((value - domain[0]) / span) * (range[1] - range[0]);
        };
    }

    function isDateAxis(axis, values) {
        if (axis.type) {
            return axis.type === "date";
        }
        return values.length > 0 && values.every(function (v) {
            return typeof v === "string" && /^\d{4}-\d\d-\d\d/.test(v);
        });
    }

    function isCategoryAxis(axis, values) {
        if (axis.type) {
            return axis.type === "category";
        }
        return values.some(function (v) {
            return typeof v === "string";
        }) && !isDateAxis(axis, values);
    }

    function categoriesOf(axis, values) {
        const seen = [];
        values.forEach(function (v) {
            if (seen.indexOf(String(v)) < 0) {
                seen.push(String(v));
            }
        });
        if (axis.categoryorder === "array" && Array.isArray(axis.categoryarray)) {
            const ordered = axis.categoryarray.map(String);
            return ordered.concat(seen.filter(function (c) {
                return ordered.indexOf(c) < 0;
            }));
        }
        return seen;
    }

    // ------------------------------------------------------------------------------------ the figure

    // Every point of the cartesian traces with its place (x/y numbers on their axes) and its hover text.
    function cartesianPoints(figure) {
        const layout = figure.layout || {};
        const traces = figure.data || [];
        const xValues = [];
        const yValues = [];
        traces.forEach(function (trace) {
            if (trace.type === "heatmap") {
                (trace.x || []).forEach(function (v) { xValues.push(v); });
                (trace.y || []).forEach(function (v) { yValues.push(v); });
            } else if (trace.orientation === "h") {
                (trace.y || []).forEach(function (v) { yValues.push(v); });
                (trace.base || trace.x || []).forEach(function (v) { xValues.push(v); });
            } else {
                (trace.x || []).forEach(function (v) { xValues.push(v); });
                (trace.y || []).forEach(function (v) { yValues.push(v); });
            }
        });
        const xAxis = layout.xaxis || {};
        const yAxis = layout.yaxis || {};
        return {
            x: {axis: xAxis, date: isDateAxis(xAxis, xValues), categories: isCategoryAxis(xAxis, xValues) ? categoriesOf(xAxis, xValues) : null},
            y: {axis: yAxis, date: isDateAxis(yAxis, yValues), categories: isCategoryAxis(yAxis, yValues) ? categoriesOf(yAxis, yValues) : null},
        };
    }

    function axisValue(info, value) {
        if (info.categories) {
            return info.categories.indexOf(String(value));
        }
        return info.date ? toTime(value) : Number(value);
    }

    // Bars and markers as shapes in axis units: [x0, x1, y0, y1] (or a marker's x, y), with their point.
    function shapes(figure, axes) {
        const layout = figure.layout || {};
        const stacked = layout.barmode === "stack" || layout.barmode === "relative";
        const gap = layout.bargap === undefined ? 0.2 : layout.bargap;
        const stacks = {};
        const out = [];
        (figure.data || []).forEach(function (trace, index) {
            const type = trace.type || "scatter";
            const name = traceName(trace, index);
            if (type === "bar") {
                const horizontal = trace.orientation === "h";
                const along = horizontal ? axes.y : axes.x; // the axis the bars stand on
                const lengths = (horizontal ? trace.x : trace.y) || [];
                const places = (horizontal ? trace.y : trace.x) || [];
                let width = along.categories ? 1 : trace.xperiod || trace.width;
                if (!width) {
                    const sorted = places.map(function (p) { return axisValue(along, p); }).sort(function (a, b) { return a - b; });
                    width = sorted.slice(1).reduce(function (least, v, i) {
                        return Math.min(least, v - sorted[i] || least);
                    }, Infinity);
                    width = isFinite(width) ? width : along.date ? DAY : 1;
                }
                const shift = trace.xperiodalignment === "middle" && !along.categories ? width / 2 : 0;
                places.forEach(function (place, i) {
                    const center = axisValue(along, place) + shift;
                    const key = String(center);
                    const length = Number(lengths[i]) || 0;
                    const across = horizontal ? axes.x : axes.y;
                    let start = trace.base !== undefined
                        ? axisValue(across, Array.isArray(trace.base) ? trace.base[i] : trace.base)
                        : 0;
                    if (stacked) {
                        start = stacks[key] || 0;
                        stacks[key] = start + length;
                    }
                    const point = {
                        x: horizontal ? length : place,
                        y: horizontal ? place : length,
                        base: Array.isArray(trace.base) ? trace.base[i] : trace.base,
                        customdata: trace.customdata ? trace.customdata[i] : undefined,
                        text: Array.isArray(trace.text) ? trace.text[i] : trace.text,
                        fullData: {name: name},
                    };
                    const half = (width * (1 - gap)) / 2;
                    const box = horizontal
                        ? [start, start + length, center - half, center + half]
                        : [center - half, center + half, start, start + length];
                    out.push({kind: "bar", trace: trace, index: index, i: i, point: point, box: box, column: key, center: center, width: width});
                });
            } else if (type === "scatter") {
                (trace.x || []).forEach(function (x, i) {
                    const y = (trace.y || [])[i];
                    out.push({
                        kind: "marker",
                        trace: trace,
                        index: index,
                        i: i,
                        at: [axisValue(axes.x, x), axisValue(axes.y, y)],
                        point: {
                            x: x,
                            y: y,
                            customdata: trace.customdata ? trace.customdata[i] : undefined,
                            text: Array.isArray(trace.text) ? trace.text[i] : trace.text,
                            fullData: {name: name},
                        },
                    });
                });
            } else if (type === "heatmap") {
                (trace.z || []).forEach(function (row, r) {
                    (row || []).forEach(function (z, c) {
                        const x = (trace.x || [])[c];
                        const y = (trace.y || [])[r];
                        out.push({
                            kind: "cell",
                            trace: trace,
                            index: index,
                            at: [axisValue(axes.x, x === undefined ? c : x), axisValue(axes.y, y === undefined ? r : y)],
                            point: {x: x, y: y, z: z, fullData: {name: name}},
                        });
                    });
                });
            }
        });
        return out;
    }

    function extent(values, fallback) {
        const finite = values.filter(function (v) { return isFinite(v); });
        if (!finite.length) {
            return fallback;
        }
        return [Math.min.apply(null, finite), Math.max.apply(null, finite)];
    }

    function axisRange(info, shapesList, which) {
        if (Array.isArray(info.axis.range) && info.axis.range.length === 2) {
            return info.axis.range.map(function (v) { return info.date ? toTime(v) : Number(v); });
        }
        if (info.categories) {
            return [-0.5, info.categories.length - 0.5];
        }
        const values = [];
        let bars = false;
        shapesList.forEach(function (shape) {
            if (shape.box) {
                bars = true;
                const pair = which === "x" ? shape.box.slice(0, 2) : shape.box.slice(2, 4);
                values.push(pair[0], pair[1]);
            } else {
                values.push(shape.at[which === "x" ? 0 : 1]);
            }
        });
        let range = extent(values, info.date ? [Date.now() - DAY, Date.now()] : [0, 1]);
        if (range[0] === range[1]) {
            const pad = info.date ? HOUR : Math.abs(range[0]) || 1;
            range = [range[0] - pad, range[1] + pad];
        } else if (!info.date) {
            const padding = (range[1] - range[0]) * 0.05;
            range = [bars && range[0] >= 0 ? Math.max(0, range[0] - padding) : range[0] - padding, range[1] + padding];
        } else {
            const padding = (range[1] - range[0]) * 0.03;
            range = [range[0] - padding, range[1] + padding];
        }
        return range;
    }

    // ------------------------------------------------------------------------------------ the drawing

    function textLines(parent, lines, attributes, lineHeight) {
        const text = node("text", attributes, parent);
        lines.forEach(function (line, index) {
            const span = node("tspan", {x: attributes.x, dy: index === 0 ? 0 : lineHeight}, text);
            span.textContent = line;
        });
        return text;
    }

    function plainLines(text) {
        return String(text).split(/<br\s*\/?>/i).map(function (line) {
            return line.replace(/<[^>]*>/g, "");
        });
    }

    function legendEntries(figure) {
        const traces = figure.data || [];
        const pie = traces.find(function (t) { return t.type === "pie"; });
        if (pie) {
            const colors = (pie.marker || {}).colors || [];
            return (pie.labels || []).map(function (label, i) {
                return {name: String(label), color: colors[i] || "#8a94a6"};
            });
        }
        const shown = traces.filter(function (t) {
            return t.showlegend !== false && t.type !== "heatmap";
        });
        const layout = figure.layout || {};
        if (layout.showlegend === false || (layout.showlegend === undefined && shown.length < 2)) {
            return [];
        }
        return shown.map(function (t, i) {
            return {name: traceName(t, i), color: (t.marker || {}).color || (t.line || {}).color || "#8a94a6"};
        });
    }

    function drawLegend(svg, entries, frame, layout, font) {
        const legend = layout.legend || {};
        const group = node("g", {class: "chart-legend", "aria-hidden": "true"}, svg);
        const size = font.size || 12;
        if (legend.orientation === "h") {
            let x = frame.left;
            let y = frame.legendTop + size;
            entries.forEach(function (entry) {
                const width = 22 + entry.name.length * size * 0.6 + 14;
                if (x + width > frame.width && x > frame.left) {
                    x = frame.left;
                    y += size + 8;
                }
                node("rect", {x: x, y: y - size + 2, width: 12, height: 12, rx: 2, fill: entry.color}, group);
                textLines(group, [entry.name], {x: x + 18, y: y, fill: font.color, "font-size": size}, 0);
                x += width;
            });
        } else {
            const x = frame.legendLeft;
            let y = frame.top + frame.plotHeight / 2 - (entries.length * (size + 8)) / 2 + size;
            entries.forEach(function (entry) {
                node("rect", {x: x, y: y - size + 2, width: 12, height: 12, rx: 2, fill: entry.color}, group);
                textLines(group, [entry.name], {x: x + 18, y: y, fill: font.color, "font-size": size}, 0);
                y += size + 8;
            });
        }
    }

    function legendSpace(entries, layout, width, font) {
        const size = font.size || 12;
        if (!entries.length) {
            return {top: 0, right: 0};
        }
        if ((layout.legend || {}).orientation === "h") {
            let rows = 1;
            let x = 0;
            entries.forEach(function (entry) {
                const w = 22 + entry.name.length * size * 0.6 + 14;
                if (x + w > width && x > 0) {
                    rows += 1;
                    x = 0;
                }
                x += w;
            });
            return {top: rows * (size + 8) + 4, right: 0};
        }
        const longest = Math.max.apply(null, entries.map(function (e) { return e.name.length; }));
        return {top: 0, right: 24 + longest * size * 0.62};
    }

    function colorAt(scaleStops, share) {
        const stops = scaleStops.map(function (stop) {
            const hex = String(stop[1]).replace("#", "");
            const rgb = /^rgba?\(/.test(stop[1])
                ? stop[1].replace(/[^\d.,]/g, "").split(",").map(Number)
                : [0, 2, 4].map(function (i) { return parseInt(hex.substr(i, 2), 16); });
            return [Number(stop[0]), rgb];
        });
        let k = 1;
        while (k < stops.length - 1 && stops[k][0] < share) {
            k += 1;
        }
        const a = stops[k - 1];
        const b = stops[k];
        const t = b[0] === a[0] ? 0 : Math.min(1, Math.max(0, (share - a[0]) / (b[0] - a[0])));
        const mix = [0, 1, 2].map(function (i) { return Math.round(a[1][i] + (b[1][i] - a[1][i]) * t); });
        return "rgb(" + mix.join(",") + ")";
    }

    const DEFAULT_SCALE = [[0, "#eef3fb"], [1, "#2f80ed"]];

    function drawPie(svg, trace, frame, tipTargets) {
        const values = (trace.values || []).map(Number);
        const total = values.reduce(function (a, b) { return a + (b > 0 ? b : 0); }, 0);
        const cx = frame.left + frame.plotWidth / 2;
        const cy = frame.top + frame.plotHeight / 2;
        const outer = Math.max(10, Math.min(frame.plotWidth, frame.plotHeight) / 2);
        const inner = outer * (trace.hole || 0);
        const colors = (trace.marker || {}).colors || [];
        const clockwise = trace.direction === "clockwise";
        let angle = ((trace.rotation || 0) * Math.PI) / 180;
        values.forEach(function (value, i) {
            if (!(value > 0) || !total) {
                return;
            }
            const sweep = (value / total) * 2 * Math.PI;
            const from = angle;
            angle += clockwise ? sweep : -sweep;
            const to = angle;
            const point = {
                label: (trace.labels || [])[i],
                value: value,
                percent: value / total,
                customdata: trace.customdata ? trace.customdata[i] : undefined,
                fullData: {name: trace.name},
            };
            const at = function (radius, theta) {
                return [cx + radius * Math.sin(theta), cy - radius * Math.cos(theta)];
            };
            let d;
            if (value >= total) {
                // A whole ring: two half arcs (an arc cannot start and end at the same point).
                d = ["M", cx, cy - outer, "A", outer, outer, 0, 1, 1, cx, cy + outer, "A", outer, outer, 0, 1, 1, cx, cy - outer];
                if (inner) {
                    d = d.concat(["M", cx, cy - inner, "A", inner, inner, 0, 1, 0, cx, cy + inner, "A", inner, inner, 0, 1, 0, cx, cy - inner]);
                }
                d.push("Z");
            } else {
                const large = sweep > Math.PI ? 1 : 0;
                const sweepFlag = clockwise ? 1 : 0;
                const o1 = at(outer, from);
                const o2 = at(outer, to);
                const i2 = at(inner, to);
                const i1 = at(inner, from);
                d = ["M", o1[0], o1[1], "A", outer, outer, 0, large, sweepFlag, o2[0], o2[1]];
                d = inner
                    ? d.concat(["L", i2[0], i2[1], "A", inner, inner, 0, large, 1 - sweepFlag, i1[0], i1[1], "Z"])
                    : d.concat(["L", cx, cy, "Z"]);
            }
            const slice = node("path", {d: d.join(" "), fill: colors[i] || "#8a94a6", class: "chart-mark", "fill-rule": "evenodd"}, svg);
            tipTargets.push({element: slice, lines: hoverLines(trace, point, "label", "value")});
        });
    }

    function hoverLines(trace, point, xKey, yKey) {
        if (trace.hoverinfo === "skip" || trace.hoverinfo === "none") {
            return null;
        }
        if (trace.hovertemplate) {
            return fillTemplate(String(trace.hovertemplate), point);
        }
        const name = point.fullData && point.fullData.name;
        const value = point[yKey];
        const shown = typeof value === "number" ? formatNumber(value) : String(value);
        return [(name ? name + ": " : "") + String(point[xKey]) + ", " + shown];
    }

    function drawAxes(svg, axes, frame, font) {
        const group = node("g", {class: "chart-axes", "aria-hidden": "true"}, svg);
        const size = font.size || 12;
        ["x", "y"].forEach(function (which) {
            const info = axes[which];
            const axis = info.axis;
            if (axis.visible === false) {
                return;
            }
            const horizontal = which === "x";
            const position = horizontal ? frame.sx : frame.sy;
            const range = horizontal ? frame.xRange : frame.yRange;
            let ticks;
            let labels;
            if (info.categories) {
                ticks = info.categories.map(function (_, i) { return i; });
                labels = info.categories.map(function (c) { return [c]; });
            } else if (info.date) {
                const count = Math.max(2, Math.floor((horizontal ? frame.plotWidth : frame.plotHeight) / (horizontal ? 90 : 40)));
                const found = dateTicks(range[0], range[1], count);
                ticks = found.ticks;
                labels = dateTickLabels(ticks, found.step);
            } else {
                const count = Math.max(2, Math.floor((horizontal ? frame.plotWidth : frame.plotHeight) / (horizontal ? 90 : 50)));
                ticks = linearTicks(range[0], range[1], count);
                labels = ticks.map(function (t) { return [formatNumber(t)]; });
            }
            const grid = axis.showgrid === undefined ? !info.categories : axis.showgrid;
            ticks.forEach(function (tick, index) {
                const at = position(tick);
                if (grid) {
                    node("line", horizontal
                        ? {x1: at, x2: at, y1: frame.top, y2: frame.top + frame.plotHeight}
                        : {x1: frame.left, x2: frame.left + frame.plotWidth, y1: at, y2: at},
                    group).setAttribute("stroke", axis.gridcolor || "rgba(138,148,166,0.18)");
                }
                if (axis.showticklabels === false) {
                    return;
                }
                if (horizontal) {
                    textLines(group, labels[index], {x: at, y: frame.top + frame.plotHeight + size + 4, fill: font.color, "font-size": size, "text-anchor": "middle"}, size + 2);
                } else {
                    textLines(group, labels[index], {x: frame.left - 6, y: at + size * 0.35, fill: font.color, "font-size": size, "text-anchor": "end"}, size + 2);
                }
            });
            const title = axis.title && (typeof axis.title === "string" ? axis.title : axis.title.text);
            if (title) {
                const titleSize = (axis.title.font && axis.title.font.size) || size;
                if (horizontal) {
                    textLines(group, [title], {x: frame.left + frame.plotWidth / 2, y: frame.height - 4, fill: font.color, "font-size": titleSize, "text-anchor": "middle"}, 0);
                } else {
                    const x = titleSize;
                    const y = frame.top + frame.plotHeight / 2;
                    textLines(group, [title], {x: x, y: y, fill: font.color, "font-size": titleSize, "text-anchor": "middle", transform: "rotate(-90 " + x + " " + y + ")"}, 0);
                }
            }
        });
    }

    function markerPath(symbol, x, y, size) {
        const r = size / 2;
        if (symbol === "diamond") {
            return ["M", x, y - r, "L", x + r, y, "L", x, y + r, "L", x - r, y, "Z"].join(" ");
        }
        if (symbol === "square") {
            return ["M", x - r, y - r, "H", x + r, "V", y + r, "H", x - r, "Z"].join(" ");
        }
        return ["M", x - r, y, "A", r, r, 0, 1, 1, x + r, y, "A", r, r, 0, 1, 1, x - r, y, "Z"].join(" ");
    }

    function drawCartesian(svg, figure, axes, frame, tipTargets, columns) {
        const layout = figure.layout || {};
        const all = frame.shapes;
        const marks = node("g", {class: "chart-marks"}, svg);
        // Heatmap cells: each a rectangle a category (or step) wide, coloured along the trace's scale.
        all.filter(function (s) { return s.kind === "cell"; }).forEach(function (cell) {
            const trace = cell.trace;
            const zs = [].concat.apply([], trace.z || []).filter(function (z) { return isFinite(z) && z !== null; });
            const low = trace.zmin !== undefined ? trace.zmin : Math.min.apply(null, zs);
            const high = trace.zmax !== undefined ? trace.zmax : Math.max.apply(null, zs);
            const stops = Array.isArray(trace.colorscale) ? trace.colorscale : DEFAULT_SCALE;
            const w = Math.abs(frame.sx(1) - frame.sx(0));
            const h = Math.abs(frame.sy(1) - frame.sy(0));
            if (cell.point.z === null || cell.point.z === undefined) {
                return;
            }
            const share = high > low ? (cell.point.z - low) / (high - low) : 1;
            const rect = node("rect", {
                x: frame.sx(cell.at[0]) - w / 2,
                y: frame.sy(cell.at[1]) - h / 2,
                width: Math.max(0, w - (trace.xgap || 1)),
                height: Math.max(0, h - (trace.ygap || 1)),
                fill: colorAt(stops, share),
                class: "chart-mark",
            }, marks);
            tipTargets.push({element: rect, lines: hoverLines(trace, cell.point, "x", "z")});
        });
        all.filter(function (s) { return s.kind === "bar"; }).forEach(function (bar) {
            const x0 = frame.sx(bar.box[0]);
            const x1 = frame.sx(bar.box[1]);
            const y0 = frame.sy(bar.box[2]);
            const y1 = frame.sy(bar.box[3]);
            const marker = bar.trace.marker || {};
            const color = Array.isArray(marker.color) ? marker.color[bar.i] : marker.color || "#2f80ed";
            const rect = node("rect", {
                x: Math.min(x0, x1),
                y: Math.min(y0, y1),
                width: Math.max(Math.abs(x1 - x0), bar.trace.orientation === "h" ? 2 : 0),
                height: Math.abs(y1 - y0),
                fill: color,
                opacity: bar.trace.opacity,
                class: "chart-mark",
            }, marks);
            const lines = hoverLines(bar.trace, bar.point, bar.trace.orientation === "h" ? "y" : "x", bar.trace.orientation === "h" ? "x" : "y");
            if (columns) {
                columns.add(bar, lines, color);
            } else {
                tipTargets.push({element: rect, lines: lines});
            }
        });
        (figure.data || []).forEach(function (trace) {
            if ((trace.type || "scatter") !== "scatter") {
                return;
            }
            const mode = trace.mode || "lines+markers";
            const mine = all.filter(function (s) { return s.kind === "marker" && s.trace === trace; });
            const marker = trace.marker || {};
            const color = marker.color || (trace.line || {}).color || "#2f80ed";
            if (mode.indexOf("lines") >= 0 && mine.length > 1) {
                const d = mine.map(function (s, i) {
                    return (i ? "L" : "M") + frame.sx(s.at[0]) + " " + frame.sy(s.at[1]);
                }).join(" ");
                node("path", {d: d, fill: "none", stroke: (trace.line || {}).color || color, "stroke-width": (trace.line || {}).width || 2}, marks);
            }
            if (mode.indexOf("markers") >= 0 || mine.length === 1) {
                // "square-open" and the like: the shape's outline only, in the marker's colour.
                const symbol = String(marker.symbol || "circle");
                const open = /-open$/.test(symbol);
                const outline = marker.line || {};
                mine.forEach(function (s) {
                    const fill = Array.isArray(color) ? color[s.i] : color;
                    const size = Array.isArray(marker.size) ? marker.size[s.i] : marker.size || 6;
                    const path = node("path", {
                        d: markerPath(symbol.replace(/-open$/, ""), frame.sx(s.at[0]), frame.sy(s.at[1]), size),
                        fill: open ? "none" : fill,
                        stroke: open ? outline.color || fill : outline.color || "none",
                        "stroke-width": open ? outline.width || 2 : outline.width || 0,
                        class: "chart-mark",
                    }, marks);
                    tipTargets.push({element: path, lines: hoverLines(trace, s.point, "x", "y")});
                });
            }
        });
    }

    // Hover over a whole column of stacked bars ("x unified"): one tooltip listing every series there.
    function unifiedColumns(svg, frame, xInfo) {
        const byColumn = {};
        return {
            add: function (bar, lines, color) {
                const column = byColumn[bar.column] || (byColumn[bar.column] = {bar: bar, items: []});
                if (lines) {
                    column.items.push({lines: lines, color: color});
                }
            },
            finish: function (tipTargets) {
                const hits = node("g", {class: "chart-hits"}, svg);
                Object.keys(byColumn).forEach(function (key) {
                    const column = byColumn[key];
                    if (!column.items.length) {
                        return;
                    }
                    const left = frame.sx(column.bar.center - column.bar.width / 2);
                    const right = frame.sx(column.bar.center + column.bar.width / 2);
                    const hit = node("rect", {
                        x: Math.min(left, right),
                        y: frame.top,
                        width: Math.abs(right - left),
                        height: frame.plotHeight,
                        class: "chart-column",
                    }, hits);
                    const place = column.bar.point.x;
                    let title = String(place);
                    if (xInfo.date) {
                        const ms = toTime(place);
                        const hourly = column.bar.width < DAY;
                        title = formatDate(ms, hourly ? "%b %e, %Y, %H:%M" : "%b %e, %Y");
                    }
                    tipTargets.push({
                        element: hit,
                        title: title,
                        items: column.items.slice().reverse(), // the top of the stack first
                    });
                });
            },
        };
    }

    function drawAnnotations(svg, layout, frame, font) {
        (layout.annotations || []).forEach(function (note) {
            if (note.text === undefined) {
                return;
            }
            const noteFont = note.font || {};
            const size = noteFont.size || font.size || 12;
            const x = note.xref === "paper" || note.xref === undefined ? frame.left + (note.x === undefined ? 0.5 : note.x) * frame.plotWidth : frame.sx(note.x);
            const y = note.yref === "paper" || note.yref === undefined ? frame.top + (1 - (note.y === undefined ? 0.5 : note.y)) * frame.plotHeight : frame.sy(note.y);
            const lines = plainLines(note.text);
            const bold = /<b>/i.test(note.text);
            const height = lines.length * (size + 4);
            const text = textLines(svg, lines, {
                x: x,
                y: y - height / 2 + size * 0.85,
                fill: noteFont.color || font.color,
                "font-size": size,
                "text-anchor": note.xanchor === "left" ? "start" : note.xanchor === "right" ? "end" : "middle",
                class: "chart-note",
            }, size + 4);
            if (bold) {
                text.firstChild.setAttribute("font-weight", "700");
                if (lines.length > 1) {
                    Array.prototype.slice.call(text.childNodes, 1).forEach(function (span) {
                        span.setAttribute("font-size", Math.round(size * 0.7));
                    });
                }
            }
        });
    }

    // What the chart says, for a screen reader: its title, then each point's hover text, or each series'
    // total when there are many points; an empty chart says its note.
    function description(label, figure, tipTargets) {
        const parts = [];
        const notes = ((figure.layout || {}).annotations || []).map(function (n) {
            return plainLines(n.text || "").join(" ");
        });
        const points = [];
        tipTargets.forEach(function (target) {
            if (target.items) {
                target.items.forEach(function (item) {
                    points.push(target.title + ": " + item.lines.join(", "));
                });
            } else if (target.lines) {
                points.push(target.lines.join(", "));
            }
        });
        if (points.length && points.length <= SPOKEN_POINTS) {
            parts.push(points.join("; "));
        } else if (points.length) {
            const totals = (figure.data || []).map(function (trace, index) {
                const values = trace.type === "pie" ? trace.values : trace.orientation === "h" ? trace.x : trace.y;
                const sum = (values || []).reduce(function (a, b) { return a + (Number(b) || 0); }, 0);
                return traceName(trace, index) + " " + formatNumber(sum) + " in total";
            });
            parts.push(totals.join("; "));
        }
        return [label].concat(parts.length ? parts : notes).filter(Boolean).join(". ");
    }

    // ------------------------------------------------------------------------------------ the tooltip

    function tooltip(container) {
        let tip = container.querySelector(":scope > .chart-tip");
        if (!tip) {
            tip = document.createElement("div");
            tip.className = "chart-tip";
            tip.setAttribute("aria-hidden", "true");
            container.appendChild(tip);
        }
        return tip;
    }

    function showTip(container, target, event) {
        const tip = tooltip(container);
        tip.replaceChildren();
        if (target.title) {
            const title = document.createElement("div");
            title.className = "chart-tip-title";
            title.textContent = target.title;
            tip.appendChild(title);
        }
        const items = target.items || [{lines: target.lines}];
        items.forEach(function (item) {
            item.lines.forEach(function (line, index) {
                const row = document.createElement("div");
                if (item.color && index === 0) {
                    const swatch = document.createElement("span");
                    swatch.className = "chart-tip-swatch";
                    swatch.style.backgroundColor = item.color;
                    row.appendChild(swatch);
                }
                row.appendChild(document.createTextNode(line));
                tip.appendChild(row);
            });
        });
        tip.classList.add("shown");
        moveTip(container, event);
    }

    function moveTip(container, event) {
        const tip = container.querySelector(":scope > .chart-tip");
        if (!tip || !tip.classList.contains("shown")) {
            return;
        }
        const box = container.getBoundingClientRect();
        let x = event.clientX - box.left + 14;
        let y = event.clientY - box.top + 14;
        if (x + tip.offsetWidth > box.width) {
            x = Math.max(0, event.clientX - box.left - tip.offsetWidth - 14);
        }
        if (y + tip.offsetHeight > box.height) {
            y = Math.max(0, event.clientY - box.top - tip.offsetHeight - 14);
        }
        tip.style.transform = "translate(" + Math.round(x) + "px, " + Math.round(y) + "px)";
    }

    function hideTip(container) {
        const tip = container.querySelector(":scope > .chart-tip");
        if (tip) {
            tip.classList.remove("shown");
        }
    }

    // ------------------------------------------------------------------------------------ drawing

    function drawSvg(container, figure) {
        const layout = figure.layout || {};
        const font = Object.assign({size: 12, color: "#8a94a6"}, layout.font || {});
        const width = container.clientWidth || 600;
        const height = layout.height || container.clientHeight || 320;
        const margin = Object.assign({l: 80, r: 80, t: 100, b: 80}, layout.margin || {});
        const traces = figure.data || [];
        const pie = traces.find(function (t) { return t.type === "pie"; });
        const entries = legendEntries(figure);
        const space = legendSpace(entries, layout, width - margin.l - margin.r, font);
        const svg = node("svg", {
            class: "chart-svg",
            width: width,
            height: height,
            viewBox: "0 0 " + width + " " + height,
            role: "img",
            "font-family": font.family,
        });
        const frame = {
            width: width,
            height: height,
            left: margin.l,
            top: margin.t + space.top,
            legendTop: margin.t,
        };
        frame.plotWidth = Math.max(10, width - margin.l - margin.r - space.right);
        frame.plotHeight = Math.max(10, height - frame.top - margin.b);
        frame.legendLeft = frame.left + frame.plotWidth + 16;
        const tipTargets = [];
        if (pie) {
            drawPie(svg, pie, frame, tipTargets);
        } else if (traces.length) {
            const axes = cartesianPoints(figure);
            frame.shapes = shapes(figure, axes);
            frame.xRange = axisRange(axes.x, frame.shapes, "x");
            frame.yRange = axisRange(axes.y, frame.shapes, "y");
            frame.sx = scale(frame.xRange, [frame.left, frame.left + frame.plotWidth]);
            // Categories read from the top down, as plotly draws them: the array's first is at the bottom.
            frame.sy = scale(frame.yRange, [frame.top + frame.plotHeight, frame.top]);
            drawAxes(svg, axes, frame, font);
            const unified = /^x/.test(layout.hovermode || "") && traces.every(function (t) {
                return t.type === "bar" && t.orientation !== "h";
            });
            const columns = unified ? unifiedColumns(svg, frame, axes.x) : null;
            drawCartesian(svg, figure, axes, frame, tipTargets, columns);
            if (columns) {
                columns.finish(tipTargets);
            }
            if (axes.x.date) {
                svg.setAttribute("data-x-start", formatDate(frame.xRange[0], "%Y-%m-%d %H:%M:%S"));
            }
        }
        if (entries.length) {
            drawLegend(svg, entries, frame, layout, font);
        }
        frame.sx = frame.sx || scale([0, 1], [frame.left, frame.left + frame.plotWidth]);
        frame.sy = frame.sy || scale([0, 1], [frame.top + frame.plotHeight, frame.top]);
        drawAnnotations(svg, layout, frame, font);
        svg.setAttribute("aria-label", description(container.dataset.label || "", figure, tipTargets));
        tipTargets.forEach(function (target) {
            if (!target.lines && !target.items) {
                return;
            }
            target.element.addEventListener("pointerenter", function (event) {
                target.element.classList.add("hovered");
                showTip(container, target, event);
            });
            target.element.addEventListener("pointermove", function (event) {
                moveTip(container, event);
            });
            target.element.addEventListener("pointerleave", function () {
                target.element.classList.remove("hovered");
                hideTip(container);
            });
        });
        const old = container.querySelector(":scope > svg.chart-svg");
        if (old) {
            container.replaceChild(svg, old);
        } else {
            container.insertBefore(svg, container.firstChild);
        }
        hideTip(container);
    }

    // ------------------------------------------------------------------------------------ plotly.js

    let plotlyLoading = null;

    // plotly.js, from where Dash would load it for a dcc.Graph (our partial bundle: see delivery.py).
    function loadPlotly() {
        if (window.Plotly) {
            return Promise.resolve(window.Plotly);
        }
        if (!plotlyLoading) {
            plotlyLoading = new Promise(function (resolve, reject) {
                const config = JSON.parse((document.getElementById("_dash-config") || {}).textContent || "{}");
                const script = document.createElement("script");
                script.src = config.plotlyjs_url
                    || (config.requests_pathname_prefix || "/") + "_dash-component-suites/plotly/package_data/plotly.min.js";
                script.onload = function () { resolve(window.Plotly); };
                script.onerror = reject;
                document.head.appendChild(script);
            });
        }
        return plotlyLoading;
    }

    function drawWithPlotly(container, figure) {
        const old = container.querySelector(":scope > svg.chart-svg");
        if (old) {
            old.remove();
        }
        hideTip(container);
        let target = container.querySelector(":scope > .chart-plotly");
        if (!target) {
            target = document.createElement("div");
            target.className = "chart-plotly";
            container.appendChild(target);
        }
        loadPlotly().then(function (Plotly) {
            if (container._jobdashFigure === figure) {
                Plotly.react(target, figure.data || [], figure.layout || {}, {displayModeBar: false, responsive: true});
            }
        });
    }

    function render(container) {
        const figure = container._jobdashFigure;
        if (!figure) {
            return;
        }
        const drawable = (figure.data || []).every(function (trace) {
            return DRAWN_TYPES[trace.type || "scatter"];
        });
        if (drawable) {
            const plotted = container.querySelector(":scope > .chart-plotly");
            if (plotted) {
                if (window.Plotly) {
                    window.Plotly.purge(plotted);
                }
                plotted.remove();
            }
            drawSvg(container, figure);
        } else {
            drawWithPlotly(container, figure);
        }
        const layout = figure.layout || {};
        if (layout.height) {
            container.style.height = layout.height + "px";
        }
    }

    // Redraw at the new width when the chart's box changes size (a window resize, a sidebar).
    const resized = typeof ResizeObserver === "undefined" ? null : new ResizeObserver(function (entries) {
        entries.forEach(function (entry) {
            const container = entry.target;
            const width = Math.round(entry.contentRect.width);
            if (width && width !== container._jobdashWidth) {
                container._jobdashWidth = width;
                if (!container.querySelector(":scope > .chart-plotly")) {
                    render(container);
                }
            }
        });
    });

    // The clientside callback: draw the figure of the store `<chart>-figure` into the <div> `<chart>`.
    function draw(figure) {
        const context = window.dash_clientside.callback_context || {};
        const input = ((context.inputs_list || [])[0] || {}).id;
        const container = typeof input === "string" && document.getElementById(input.replace(/-figure$/, ""));
        if (!container || !figure) {
            return window.dash_clientside.no_update;
        }
        container._jobdashFigure = figure;
        container._jobdashWidth = Math.round(container.clientWidth);
        render(container);
        if (resized && !container._jobdashObserved) {
            container._jobdashObserved = true;
            resized.observe(container);
        }
        return (figure.data || []).length;
    }

    window.dash_clientside = Object.assign({}, window.dash_clientside, {
        charts: {draw: draw},
    });
})();
