/* JobDash in the browser: paged tables whose rows arrive as data, and in-app links inside them.
 *
 * A table's server callback sends its rows as plain objects ({id, name, status, ...}); the clientside
 * callback `jobdash.renderRows` turns them into <tr> elements of the table's <tbody>, which Dash itself
 * never fills. Rows are keyed by id: a row whose cells did not change keeps its element, so a refresh
 * re-renders only what changed. What a cell shows is said by the table's spec (built in Python, once per
 * page): columns with a key, a kind (id, link, status, time, text) and a class. Text is always set as
 * text (textContent), never as HTML, so a job name or message cannot inject markup.
 */
(function () {
    "use strict";

    // `2026-01-31T14:05:09.123+00:00` -> `2026-01-31 14:05:09` (UTC), as the server formats times.
    function utcTime(value) {
        if (!value) {
            return "";
        }
        const parsed = new Date(value);
        return isNaN(parsed) ? String(value) : parsed.toISOString().slice(0, 19).replace("T", " ");
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
            td.textContent = utcTime(value);
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

    // Draws `data.rows` into the <tbody> `spec.body`; returns how many rows it shows.
    function renderRows(data, spec) {
        const body = spec && document.getElementById(spec.body);
        if (!body) {
            return window.dash_clientside.no_update;
        }
        const rows = (data && data.rows) || [];
        const previous = body._jobdashRows || new Map();
        const current = new Map();
        const elements = rows.map(function (row) {
            const signature = JSON.stringify(row);
            const kept = previous.get(row.id);
            const tr = kept && kept.signature === signature ? kept.tr : buildRow(row, spec);
            current.set(row.id, {signature: signature, tr: tr});
            return tr;
        });
        body.replaceChildren.apply(body, elements);
        body._jobdashRows = current;
        // The layout reserved the first page's height; once a page of another length is shown, let go.
        const box = body.closest("[data-reserved-rows]");
        if (box && Number(box.dataset.reservedRows) !== rows.length) {
            box.style.minHeight = "";
        }
        return rows.length;
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
        jobdash: {renderRows: renderRows, refreshForRememberedChoice: refreshForRememberedChoice},
    });
})();
