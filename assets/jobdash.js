/* JobDash in the browser: paged tables whose rows arrive as data, in-app links inside them, times in the
 * viewer's zone, and the auto-refresh ticks.
 *
 * A table's server callback sends its rows as plain objects ({id, name, status, ...}); the clientside
 * callback `jobdash.renderRows` turns them into <tr> elements of the table's <tbody>, which Dash itself
 * never fills. Rows are keyed by id and reconciled: a row whose cells did not change keeps its element,
 * in place (never detached), a changed row is replaced where it stands, and rows are inserted or removed
 * around the others. Rows the data lists in `fresh` (added at the top by a refresh) are marked new. What
 * a cell shows is said by the table's spec (built in Python, once per page): columns with a key, a kind
 * (id, link, status, time, duration, text) and a class. Text is always set as text (textContent), never as HTML,
 * so a job name or message cannot inject markup.
 *
 * Times are shown in the zone the index page's first script chose (the browser's, or UTC when the viewer
 * switched to it): `<html data-time-zone>`, the same zone the server formats its own times in.
 *
 * Auto-refresh: `jobdash.live.every(seconds)` (0: off) ticks the shell's `shell-tick` store, which the
 * pages' refresh callbacks listen to. No tick while the tab is hidden; one as soon as it is shown again.
 */
(function () {
    "use strict";

    // The zone times are shown in, if the browser knows it (else UTC, as the server falls back).
    const ZONE = (function () {
        const wanted = document.documentElement.dataset.timeZone || "UTC";
        try {
            new Intl.DateTimeFormat("en-US", {timeZone: wanted});
            return wanted;
        } catch (e) {
            return "UTC";
        }
    })();
    const FORMAT = new Intl.DateTimeFormat("en-US", {
        timeZone: ZONE,
        year: "numeric",
        month: "2-digit",
        day: "2-digit",
        hour: "2-digit",
        minute: "2-digit",
        second: "2-digit",
        hourCycle: "h23",
    });

    // `2026-01-31T14:05:09.123+00:00` -> `2026-01-31 15:05:09` in Europe/Paris, as the server formats times.
    function zonedTime(value) {
        if (!value) {
            return "";
        }
        const parsed = new Date(value);
        if (isNaN(parsed)) {
            return String(value);
        }
        const parts = {};
        FORMAT.formatToParts(parsed).forEach(function (part) {
            parts[part.type] = part.value;
        });
        return parts.year + "-" + parts.month + "-" + parts.day + " " + parts.hour + ":" + parts.minute + ":" +
            parts.second;
    }

    function utcTime(value) {
        const parsed = new Date(value);
        return isNaN(parsed) ? "" : parsed.toISOString().slice(0, 19).replace("T", " ") + " UTC";
    }

    function element(tag, className, text) {
        const node = document.createElement(tag);
        if (className) {
            node.className = className;
        }
        if (text !== undefined) {
            node.textContent = text;
        }
        return node;
    }

    function statusBadge(status, statuses) {
        const known = statuses[status] || {color: "#8a94a6", icon: "bi-circle", label: status};
        const badge = element("span", "status-badge");
        badge.dataset.status = status;
        badge.style.setProperty("--status-color", known.color);
        badge.appendChild(element("i", "bi " + known.icon + " me-1"));
        badge.appendChild(document.createTextNode(known.label));
        return badge;
    }

    function cell(column, row, spec) {
        const value = row[column.key];
        const td = element("td", column.className || "");
        if (column.kind === "id") {
            td.textContent = "#" + value;
        } else if (column.kind === "link") {
            const link = element("a", column.linkClass || "", value);
            link.href = column.href.replace("{id}", encodeURIComponent(row.id));
            link.dataset.inApp = "";
            td.appendChild(link);
        } else if (column.kind === "status") {
            td.appendChild(statusBadge(value, spec.statuses || {}));
        } else if (column.kind === "time") {
            td.textContent = zonedTime(value);
            if (ZONE !== "UTC" && value) {
                td.title = utcTime(value);
            }
        } else if (column.kind === "duration") {
            // {text, running}: a finished job's duration, or an unfinished one's time so far (muted).
            td.textContent = (value && value.text) || "";
            if (value && value.running) {
                td.classList.add("duration-running", "text-body-secondary", "fst-italic");
            }
        } else if (value === null || value === undefined || value === "") {
            td.textContent = column.empty || "";
            if (column.emptyClass) {
                td.classList.add(column.emptyClass);
            }
        } else {
            td.textContent = String(value);
        }
        return td;
    }

    function buildRow(row, spec) {
        const tr = element("tr", spec.rowClass || "");
        tr.dataset[spec.rowKey || "rowId"] = String(row.id);
        spec.columns.forEach(function (column) {
            tr.appendChild(cell(column, row, spec));
        });
        return tr;
    }

    // The "new" mark of a row added at the top by a refresh: a badge with its text, and a highlight that
    // fades (assets/jobdash.css). Marks are not part of a row's cells: setting or lifting one keeps the row.
    function mark(tr, isNew) {
        const badge = tr.querySelector(".new-badge");
        tr.classList.toggle("row-new", isNew);
        if (isNew && !badge) {
            const target = tr.querySelector("td.name-cell") || tr.querySelector("td:last-child");
            if (target) {
                target.appendChild(element("span", "new-badge ms-2", "New"));
            }
        } else if (!isNew && badge) {
            badge.remove();
        }
    }

    // Puts `elements` into `body` in order, moving nothing that is already in its place: rows that go are
    // removed first, then each row is inserted where it belongs (a kept row already is).
    function reconcile(body, elements) {
        const wanted = new Set(elements);
        Array.from(body.children).forEach(function (child) {
            if (!wanted.has(child)) {
                body.removeChild(child);
            }
        });
        let cursor = body.firstChild;
        elements.forEach(function (tr) {
            if (tr === cursor) {
                cursor = cursor.nextSibling;
            } else {
                body.insertBefore(tr, cursor);
            }
        });
    }

    // Draws `data.rows` into the <tbody> `spec.body`; returns how many rows it shows.
    function renderRows(data, spec) {
        const body = spec && document.getElementById(spec.body);
        if (!body) {
            return window.dash_clientside.no_update;
        }
        const rows = (data && data.rows) || [];
        const fresh = new Set((data && data.fresh) || []);
        const previous = body._jobdashRows || new Map();
        const current = new Map();
        const elements = rows.map(function (row) {
            const signature = JSON.stringify(row);
            const kept = previous.get(row.id);
            const tr = kept && kept.signature === signature ? kept.tr : buildRow(row, spec);
            current.set(row.id, {signature: signature, tr: tr});
            mark(tr, fresh.has(row.id));
            return tr;
        });
        reconcile(body, elements);
        body._jobdashRows = current;
        // The layout reserved the first page's height; once a page of another length is shown, let go.
        const box = body.closest("[data-reserved-rows]");
        if (box && Number(box.dataset.reservedRows) !== rows.length) {
            box.style.minHeight = "";
        }
        return rows.length;
    }

    // Whether a refresh is about the view a table shows: the same URL query, and the same baseline (the
    // time newer rows are counted from): `as_of` after the refresh, or `from` before it.
    function sameView(live, data, baseline) {
        const query = (live.search || null) === (data.search || null);
        return query && (live[baseline] || null) === (data.as_of || null);
    }

    // A live refresh (a page's `*-live` store) becomes the table's data when it was read for the view the
    // table still shows and moves no row (`apply`); otherwise the rows stay. Answers the table's data, its
    // count, what a screen reader hears, and whether Previous / Next can be used.
    function applyLive(live, data) {
        const skip = window.dash_clientside.no_update;
        if (!live || !live.apply || !data || !sameView(live, data, "from")) {
            return [skip, skip, skip, skip, skip];
        }
        return [live.data, live.count, live.announce, !live.data.previous, !live.data.next];
    }

    // The banner of a list that changed under a held-back refresh, while the view is the one it is about.
    function liveBanner(live, data) {
        const current = live && live.banner && data && sameView(live, data, "as_of");
        return current ? [false, live.banner] : [true, ""];
    }

    // Auto-refresh ticks: every `ms` while the tab is visible; none while it is hidden, one on return.
    const live = {ms: 0, timer: null, ticks: 0};

    function tick() {
        live.ticks += 1;
        window.dash_clientside.set_props("shell-tick", {data: live.ticks});
    }

    function schedule() {
        window.clearInterval(live.timer);
        live.timer = null;
        if (live.ms > 0 && document.visibilityState === "visible") {
            live.timer = window.setInterval(tick, live.ms);
        }
    }

    document.addEventListener("visibilitychange", function () {
        if (live.ms > 0 && document.visibilityState === "visible") {
            tick();
        }
        schedule();
    });

    function every(seconds) {
        const ms = Math.max(0, Number(seconds) || 0) * 1000;
        if (ms !== live.ms) {
            live.ms = ms;
            schedule();
        }
    }

    // Links drawn here open their page inside the app, as dcc.Link does: no full reload. A click with a
    // modifier key (new tab, new window) is left to the browser.
    document.addEventListener("click", function (event) {
        const link = event.target.closest && event.target.closest("a[data-in-app]");
        if (!link || event.defaultPrevented || event.button !== 0) {
            return;
        }
        if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) {
            return;
        }
        event.preventDefault();
        window.history.pushState({}, "", link.getAttribute("href"));
        window.dispatchEvent(new CustomEvent("_dashprivate_pushstate"));
        window.scrollTo(0, 0);
    });

    // On a page drawn with a default choice (`shown`), a control whose remembered value differs asks for
    // that value's content once, as a click of the page's refresh button would; later changes are the
    // page's own callbacks' to answer.
    function refreshForRememberedChoice(value, shown, clicks) {
        const triggered = (window.dash_clientside.callback_context || {}).triggered || [];
        const initial = triggered.every(function (t) { return !t.prop_id || t.prop_id === "."; });
        if (!initial || value === shown || value === undefined || value === null) {
            return window.dash_clientside.no_update;
        }
        return (clicks || 0) + 1;
    }

    window.dash_clientside = Object.assign({}, window.dash_clientside, {
        jobdash: {
            renderRows: renderRows,
            applyLive: applyLive,
            liveBanner: liveBanner,
            live: {every: every},
            refreshForRememberedChoice: refreshForRememberedChoice,
        },
    });
})();
