/* Department desk: the department's cases by deadline, tabs by state, acting from the row.
   Uses window.citygridActions (case.js) for the action buttons and forms. */
(function () {
  "use strict";

  var cfg = JSON.parse(document.getElementById("cg-desk-config").textContent);
  var T = cfg.text;
  var C = window.citygrid;
  var A = window.citygridActions;
  var el = C.el;
  var fmt = C.fmt;

  var rowsBody = document.getElementById("desk-rows");
  var empty = document.getElementById("desk-empty");
  var message = document.getElementById("desk-message");
  var overdueNote = document.getElementById("desk-overdue");
  var pageInfo = document.getElementById("desk-pageinfo");
  var prev = document.getElementById("desk-prev");
  var next = document.getElementById("desk-next");
  var panel = document.getElementById("desk-panel");
  var deptSelect = document.getElementById("desk-department");
  var tabs = Array.prototype.slice.call(document.querySelectorAll(".desk-tab"));

  var query = new URLSearchParams(window.location.search);
  var state = {
    tab: cfg.tabs.indexOf(query.get("tab")) >= 0 ? query.get("tab") : cfg.tabs[0],
    page: Math.max(1, parseInt(query.get("page") || "1", 10) || 1),
    department: query.get("department") || "",
    q: query.get("q") || "",
    total: 0,
    items: [],
    loading: false,
    error: null,
    loads: 0,
  };
  window.citygridDesk = { state: state, reload: load };
  var controller = null;

  function actionUrl(id) { return cfg.actionUrl.replace(/\/0\/actions$/, "/" + id + "/actions"); }
  function caseUrl(id) { return cfg.casePageUrl.replace(/\/0$/, "/" + id); }

  function say(text, kind) {
    message.className = "desk-message" + (kind ? " " + kind : "");
    message.textContent = text;
  }

  function span(minutes) {
    minutes = Math.abs(minutes);
    if (minutes >= 1440) {
      var days = Math.floor(minutes / 1440);
      var hours = Math.floor((minutes % 1440) / 60);
      return fmt(T.days, { n: days }) + (hours ? " " + fmt(T.hoursShort, { n: hours }) : "");
    }
    if (minutes >= 60) {
      var h = Math.floor(minutes / 60);
      var m = Math.floor(minutes % 60);
      return fmt(T.hoursShort, { n: h }) + (m ? " " + fmt(T.minutes, { n: m }) : "");
    }
    return fmt(T.minutes, { n: Math.max(1, Math.round(minutes)) });
  }

  function deadlineCell(item) {
    var when = item.stage_deadline;
    if (item.state !== "dispatched" && item.state !== "processing" && item.state !== "suspended") {
      when = item.handle_deadline || item.stage_deadline;
    }
    if (!when) return el("td", { className: "deadline" }, ["—"]);
    var left = (new Date(when).getTime() - Date.now()) / 60000;
    var rel;
    if (item.state === "suspended") rel = el("span", { className: "rel paused", text: T.paused });
    else if (item.state === "dispatched" || item.state === "processing") {
      rel = left < 0
        ? el("span", { className: "rel late", text: fmt(T.overdueBy, { span: span(left) }) })
        : el("span", { className: "rel", text: fmt(T.left, { span: span(left) }) });
    }
    return el("td", { className: "deadline" }, [
      el("time", { datetime: when, text: C.time.dateTime(when) }), rel ? el("br") : null, rel || null,
    ]);
  }

  function lightBadge(light) {
    if (!light) return el("span", { className: "badge light light-none", text: "—" });
    return el("span", { className: "badge light light-" + light, title: T.lights[light] }, [
      el("span", { className: "dot", "aria-hidden": "true" }), T.lights[light] || light,
    ]);
  }

  function counters(item) {
    var c = item.counters || {};
    var parts = [];
    [["postponements", T.postponements], ["reworks", T.reworks], ["returns", T.returns], ["urges", T.urges]]
      .forEach(function (pair) {
        if (c[pair[0]]) parts.push(el("span", { className: "counter counter-" + pair[0], text: pair[1] + " " + c[pair[0]] }));
      });
    return parts.length ? el("div", { className: "counters-line" }, parts) : null;
  }

  function renderRow(item) {
    var row = el("tr", { className: "case-row state-" + item.state + (item.light === "red" ? " is-red" : ""), "data-id": item.id });
    var formRow = el("tr", { className: "form-row", hidden: true }, [el("td", { colspan: "6" })]);
    var number = el("a", { href: caseUrl(item.id), className: "case-link", text: item.number });
    var place = [item.category && item.category.name, item.address].filter(Boolean).join(" · ");
    var pending = item.pending_request
      ? el("span", { className: "badge pending", text: fmt(T.pending, { kind: T.requests[item.pending_request.kind] || item.pending_request.kind }) })
      : null;
    var actionsCell = el("td", { className: "actions" });

    row.appendChild(el("td", { className: "light-cell" }, [lightBadge(item.light)]));
    row.appendChild(el("td", { className: "number" }, [
      number, item.urgency === "urgent" ? el("span", { className: "badge urgent", text: T.urgent }) : null,
      item.department_name && !cfg.ownDepartment ? el("div", { className: "muted", text: item.department_name }) : null,
    ]));
    row.appendChild(el("td", { className: "what" }, [
      el("div", { className: "place", text: place }),
      el("div", { className: "desc", title: item.description, text: item.description }),
    ]));
    row.appendChild(el("td", { className: "state" }, [
      el("span", { className: "badge state state-" + item.state, text: T.states[item.state] || item.state }),
      pending, counters(item),
    ]));
    row.appendChild(deadlineCell(item));
    row.appendChild(actionsCell);

    A.render(actionsCell, item, {
      text: T,
      actionUrl: actionUrl,
      departmentsUrl: cfg.departmentsUrl,
      zh: cfg.zh,
      maxPhotos: cfg.maxPhotos,
      formHost: formRow.firstChild,
      compact: true,
      onOpen: function () { formRow.hidden = false; },
      onClose: function () { formRow.hidden = true; },
      onDone: function (detail, _event, action) { updateRow(row, formRow, item, detail, action); },
      onError: function (text) { say(text, "error"); },
    });
    return [row, formRow];
  }

  /** After an action: redraw the row from the case the server returned, refresh the counts. */
  function updateRow(row, formRow, old, detail, action) {
    var item = Object.assign({}, old, detail, { department_name: old.department_name });
    var idx = state.items.indexOf(old);
    if (idx >= 0) state.items[idx] = item;
    var fresh = renderRow(item);
    fresh[0].classList.add("just-changed");
    row.replaceWith(fresh[0]);
    formRow.replaceWith(fresh[1]);
    say(fmt(T.done, { action: T.actions[action] || action, number: item.number, state: T.states[item.state] || item.state }), "ok");
    var link = fresh[0].querySelector(".case-link");
    if (link) link.focus();
    refreshCounts();
  }

  function params(extra) {
    var p = new URLSearchParams({ tab: state.tab, page: String(state.page), page_size: String(cfg.pageSize) });
    if (state.department) p.set("department", state.department);
    if (state.q) p.set("q", state.q);
    Object.keys(extra || {}).forEach(function (k) { p.set(k, extra[k]); });
    return p;
  }

  function showCounts(body) {
    Object.keys(body.counts).forEach(function (tab) {
      var node = document.querySelector('[data-count="' + tab + '"]');
      if (node) node.textContent = String(body.counts[tab]);
    });
    if (body.overdue) {
      overdueNote.hidden = false;
      overdueNote.textContent = body.overdue + " " + T.overdue;
    } else {
      overdueNote.hidden = true;
    }
  }

  async function refreshCounts() {
    try {
      var result = await C.api.call(cfg.dataUrl + "?" + params({ page: "1", page_size: "1" }).toString());
      if (result.ok) showCounts(result.body);
    } catch (e) { /* the counts catch up on the next load */ }
  }

  async function load() {
    if (controller) controller.abort();
    controller = new AbortController();
    var signal = controller.signal;
    state.loading = true;
    state.error = null;
    panel.setAttribute("aria-busy", "true");
    var p = params();
    var shown = new URLSearchParams(p);
    shown.delete("page_size");
    window.history.replaceState(null, "", "?" + shown.toString());
    try {
      var resp = await C.api.call(cfg.dataUrl + "?" + p.toString(), { signal: signal });
      var body = resp.body;
      if (resp.status === 401) {
        state.error = T.signedOut;
        say(T.signedOut, "error");
        return;
      }
      if (!resp.ok) {
        state.error = C.api.problemText(resp.status, body);
        say(T.loadFailed + ": " + state.error, "error");
        return;
      }
      var pages = Math.max(1, Math.ceil(body.total / body.page_size));
      if (state.page > pages && body.total > 0) {
        state.page = pages;
        return load();
      }
      state.items = body.items;
      state.total = body.total;
      showCounts(body);
      rowsBody.textContent = "";
      body.items.forEach(function (item) {
        renderRow(item).forEach(function (node) { rowsBody.appendChild(node); });
      });
      empty.hidden = body.items.length > 0;
      pageInfo.textContent = fmt(T.pageOf, { page: state.page, pages: pages, total: body.total });
      prev.disabled = state.page <= 1;
      next.disabled = state.page >= pages;
      if (message.classList.contains("error")) say("");
    } catch (err) {
      if (err.name === "AbortError") return;
      state.error = String(err);
      say(T.network, "error");
    } finally {
      if (!signal.aborted) {
        state.loading = false;
        state.loads += 1;
        panel.removeAttribute("aria-busy");
      }
    }
  }

  function selectTab(tab, focus) {
    state.tab = tab;
    state.page = 1;
    tabs.forEach(function (button) {
      var on = button.dataset.tab === tab;
      button.setAttribute("aria-selected", on ? "true" : "false");
      button.tabIndex = on ? 0 : -1;
      if (on) {
        panel.setAttribute("aria-labelledby", button.id);
        if (focus) button.focus();
      }
    });
    load();
  }

  tabs.forEach(function (button, i) {
    button.addEventListener("click", function () { selectTab(button.dataset.tab); });
    // Arrow keys move between tabs (the ARIA tabs pattern); Home/End jump to the ends.
    button.addEventListener("keydown", function (ev) {
      var to = null;
      if (ev.key === "ArrowRight") to = (i + 1) % tabs.length;
      if (ev.key === "ArrowLeft") to = (i - 1 + tabs.length) % tabs.length;
      if (ev.key === "Home") to = 0;
      if (ev.key === "End") to = tabs.length - 1;
      if (to !== null) {
        ev.preventDefault();
        selectTab(tabs[to].dataset.tab, true);
      }
    });
  });
  prev.addEventListener("click", function () { if (state.page > 1) { state.page -= 1; load(); } });
  next.addEventListener("click", function () { state.page += 1; load(); });
  var search = document.getElementById("desk-search");
  var searchBox = document.getElementById("desk-q");
  searchBox.value = state.q;
  search.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var q = searchBox.value.trim();
    if (q && !/^\d{1,20}$/.test(q)) {
      say(T.searchInvalid, "error");
      searchBox.setAttribute("aria-invalid", "true");
      searchBox.focus();
      return;
    }
    searchBox.removeAttribute("aria-invalid");
    state.q = q;
    // A number is looked for among all the department's cases, whatever its state.
    if (q) selectTab("all");
    else { state.page = 1; load(); }
  });
  if (deptSelect) {
    deptSelect.value = state.department;
    deptSelect.addEventListener("change", function () {
      state.department = deptSelect.value;
      state.page = 1;
      load();
    });
  }

  // Open on the tab and page in the address (so a reload keeps the place).
  tabs.forEach(function (button) {
    var on = button.dataset.tab === state.tab;
    button.setAttribute("aria-selected", on ? "true" : "false");
    button.tabIndex = on ? 0 : -1;
    if (on) panel.setAttribute("aria-labelledby", button.id);
  });
  load();
})();
