/* citygrid command center: open cases on a Leaflet map and in a list, kept live by Server-Sent Events.
 *
 * #cg-command-config carries the API URLs, the district's communities, state/action names and
 * the translated texts. The view (counts, map points or aggregates, one list page) comes from
 * GET /api/v1/command/cases for the current bounds and filters; /api/v1/stream says when a case
 * was reported or acted on, and the view is reloaded (debounced) with the changed rows flashed.
 */
(function () {
  "use strict";

  var cfg = JSON.parse(document.getElementById("cg-command-config").textContent);
  var C = window.citygrid;
  var esc = C.esc;  // Leaflet tooltips and divIcons take HTML: every text goes through it
  var T = cfg.text;
  var LIGHT_COLOURS = { red: "#d32f2f", yellow: "#f9a825", green: "#2e7d32", none: "#8a8f96" };
  var PAGE_SIZE = 50;
  var REFRESH_MS = 60000;   // lights change with time even when nobody acts

  var el = {
    filters: document.getElementById("cmd-filters"),
    list: document.getElementById("cmd-list"),
    listTotal: document.getElementById("cmd-list-total"),
    listError: document.getElementById("cmd-list-error"),
    page: document.getElementById("cmd-page"),
    prev: document.getElementById("cmd-prev"),
    next: document.getElementById("cmd-next"),
    detail: document.getElementById("cmd-detail"),
    live: document.getElementById("cmd-live"),
    mapStatus: document.getElementById("cmd-map-status"),
    toasts: document.getElementById("cmd-toasts"),
  };

  var state = {
    page: 1,
    loading: false,
    loads: 0,
    error: null,
    live: "connecting",
    selected: null,        // case id
    detail: null,          // the selected case as GET /cases/<id> gives it
    items: [],             // the list page
    total: 0,
    mode: null,            // "points" or "clusters"
    fresh: new Map(),      // id -> until when a newly reported case's row flashes
    changed: new Map(),    // id -> until when an acted-on case's row flashes
    departments: [],
    events: 0,
    acting: null,          // id of the case whose action is being sent
  };

  // ---- helpers ---------------------------------------------------------------------------------
  var fmt = C.fmt;
  var h = C.el;
  function when(iso) { return iso ? C.time.short(iso) : "—"; }
  function stateName(s) { return cfg.stateNames[s] || s; }
  function actionName(a) { return cfg.actionNames[a] || a; }
  function deptName(code) {
    if (!code) return T.none;
    var d = state.departments.find(function (x) { return x.code === code; });
    return d ? d.name : code;
  }
  function lightOf(x) { return x || "none"; }
  function lightLabel(l) { return l ? T[l] : T.noClock; }

  function toast(text, kind) {
    var t = h("div", { class: "cmd-toast " + (kind || ""), role: kind === "error" ? "alert" : null, text: text });
    el.toasts.appendChild(t);
    setTimeout(function () { t.classList.add("gone"); }, 5000);
    setTimeout(function () { t.remove(); }, 5600);
  }

  // Problem+json (RFC 9457) or plain failures → an Error carrying status and the server's words;
  // a session that ended sends the page to the sign-in form.
  function request(url, options) {
    return C.api.send(url, options).catch(function (err) {
      if (err.status === 401) {
        window.location.assign(cfg.urls.login);
        err.message = T.signedOut;
      }
      throw err;
    });
  }

  // ---- map -----------------------------------------------------------------------------------
  var map = L.map("cmd-map", { zoomControl: true, preferCanvas: true, keyboard: true });
  var renderer = L.canvas({ padding: 0.3 });
  var base = null;
  if (cfg.tileUrl) {
    base = L.tileLayer(cfg.tileUrl, { attribution: cfg.tileAttribution, maxZoom: 19 }).addTo(map);
  }
  var communities = L.geoJSON(cfg.communities, {
    interactive: false,
    style: { color: "#3f51b5", weight: 1.2, opacity: 0.7, fill: true, fillOpacity: 0.03, dashArray: "4 3" },
  }).addTo(map);
  // Cells holding open cases, filled with the worst light among them, under the case markers.
  var cellsLayer = L.layerGroup().addTo(map);
  var casesLayer = L.layerGroup().addTo(map);
  var selectedLayer = L.layerGroup().addTo(map);
  var inspectorsLayer = L.layerGroup().addTo(map);
  var overlays = {};
  // The layer control shows these names as HTML.
  overlays[esc(T.cellsByLight)] = cellsLayer;
  overlays[esc(T.inspectors)] = inspectorsLayer;
  L.control.layers(base ? { "—": base } : {}, overlays, { collapsed: false, position: "topright" }).addTo(map);
  L.control.scale({ imperial: false }).addTo(map);
  var markers = new Map();   // case id -> circle marker

  if (cfg.bounds) map.fitBounds([[cfg.bounds[1], cfg.bounds[0]], [cfg.bounds[3], cfg.bounds[2]]]);
  else map.setView([cfg.center[1], cfg.center[0]], 14);

  function drawPoints(points) {
    casesLayer.clearLayers();
    markers.clear();
    points.forEach(function (p) {
      var l = lightOf(p.light);
      var m = L.circleMarker([p.lat, p.lon], {
        renderer: renderer, radius: p.urgency === "urgent" ? 8 : 6.5, weight: 1.5, color: "#fff",
        fillColor: LIGHT_COLOURS[l], fillOpacity: 0.95,
      });
      m.bindTooltip(esc(p.number + " · " + stateName(p.state)), { direction: "top", offset: [0, -6] });
      m.on("click", function () { select(p.id, { fly: false, focusList: true }); });
      m.caseId = p.id;
      m.addTo(casesLayer);
      markers.set(p.id, m);
    });
  }

  function drawCells(cells) {
    cellsLayer.clearLayers();
    state.cellsDrawn = 0;
    if (!cells) return;  // too many cells in view: the aggregates carry the picture
    cells.forEach(function (c) {
      var colour = LIGHT_COLOURS[c.light];
      var layer = L.geoJSON(c.geometry, {
        renderer: renderer,
        style: { color: colour, weight: 1, opacity: 0.9, fillColor: colour, fillOpacity: 0.28 },
      });
      layer.bindTooltip(esc(fmt(T.cellLights, { code: c.code, red: c.red, yellow: c.yellow, green: c.green, none: c.none })),
        { sticky: true });
      layer.addTo(cellsLayer);
      state.cellsDrawn += 1;
    });
    el.mapStatus.dataset.cellsDrawn = String(state.cellsDrawn);
  }

  function drawClusters(clusters) {
    casesLayer.clearLayers();
    markers.clear();
    clusters.forEach(function (c) {
      var n = c.count, acc = 0, stops = [];
      ["red", "yellow", "green", "none"].forEach(function (k) {
        if (!c[k]) return;
        var from = acc / n * 100; acc += c[k];
        stops.push(LIGHT_COLOURS[k] + " " + from.toFixed(1) + "% " + (acc / n * 100).toFixed(1) + "%");
      });
      var size = n >= 1000 ? 52 : n >= 100 ? 44 : 36;
      var icon = L.divIcon({
        className: "cmd-cluster",
        iconSize: [size, size],
        html: '<span style="background:conic-gradient(' + esc(stops.join(",")) + ')"><b>' + esc(n) + "</b></span>",
      });
      var m = L.marker([c.lat, c.lon], { icon: icon, keyboard: true, title: fmt(T.zoomCluster, { count: n }) });
      m.on("click", function () { map.setView([c.lat, c.lon], Math.min(map.getZoom() + 2, 18)); });
      m.addTo(casesLayer);
    });
  }

  function drawSelected() {
    selectedLayer.clearLayers();
    markers.forEach(function (m, id) {
      m.setStyle(id === state.selected ? { color: "#1d2733", weight: 3, radius: 10 } :
        { color: "#fff", weight: 1.5, radius: m.options.radius > 8 ? 8 : m.options.radius });
      if (id === state.selected) m.bringToFront();
    });
    var d = state.detail;
    if (d && d.location && !markers.has(d.id)) {
      // Aggregated view: the selected case still gets its own marker.
      L.circleMarker([d.location.lat, d.location.lon], {
        renderer: renderer, radius: 10, weight: 3, color: "#1d2733",
        fillColor: LIGHT_COLOURS[lightOf(d.light)], fillOpacity: 1,
      }).bindTooltip(esc(d.number)).addTo(selectedLayer);
    }
  }

  function loadInspectors() {
    request(cfg.urls.positions).then(function (body) {
      inspectorsLayer.clearLayers();
      body.inspectors.forEach(function (p) {
        L.circleMarker([p.lat, p.lon], {
          renderer: renderer, radius: 5, weight: 2, color: p.on_duty ? "#0d47a1" : "#78909c",
          fillColor: "#fff", fillOpacity: 1,
        }).bindTooltip(esc(p.name + " (" + (p.on_duty ? T.onDuty : T.offDuty) + ") · " + T.positionAt + " " +
          when(p.last_position_at))).addTo(inspectorsLayer);
      });
    }).catch(function (err) { toast(T.inspectors + ": " + err.message, "error"); });
  }

  // ---- filters -------------------------------------------------------------------------------
  function fillSelect(name, options) {
    var sel = el.filters.elements[name];
    options.forEach(function (o) { sel.appendChild(h("option", { value: o[0], text: o[1] })); });
  }
  fillSelect("state", cfg.openStates.map(function (s) { return [s, stateName(s)]; }));
  fillSelect("street", cfg.streets.map(function (s) { return [s.code, s.name]; }));
  fillSelect("community", cfg.communities.features.map(function (f) {
    return [f.properties.code, f.properties.name];
  }));
  fillSelect("source", Object.keys(cfg.sourceNames).map(function (k) { return [k, cfg.sourceNames[k]]; }));

  function loadReferenceLists() {
    var depts = request(cfg.urls.departments).then(function (body) {
      state.departments = body.departments.filter(function (d) { return d.active; });
      fillSelect("department", state.departments.map(function (d) { return [d.code, d.name]; }));
    });
    var cats = request(cfg.urls.categories).then(function (body) {
      var sel = el.filters.elements.category;
      body.tree.forEach(function (kind) {
        var prefix = kind.kind === "component" ? "C" : "E";
        kind.majors.forEach(function (major) {
          var group = h("optgroup", { label: kind.name + " · " + major.name });
          group.appendChild(h("option", { value: prefix + major.code, text: major.name + " (" + T.all + ")" }));
          major.categories.forEach(function (c) {
            group.appendChild(h("option", { value: prefix + c.code, text: c.code + " " + c.name }));
          });
          sel.appendChild(group);
        });
      });
    });
    return Promise.all([depts, cats]).catch(function (err) { toast(err.message, "error"); });
  }

  function filterParams() {
    var q = new URLSearchParams();
    ["state", "light", "category", "street", "community", "department", "source", "sort"].forEach(function (n) {
      var v = el.filters.elements[n].value;
      if (v) q.set(n, v);
    });
    if (el.filters.elements.in_view.checked) q.set("in_view", "1");
    ["from", "to"].forEach(function (n) {
      var v = el.filters.elements[n].value;
      if (v) q.set(n, v.length === 16 ? v + ":00" : v);
    });
    return q;
  }

  el.filters.addEventListener("change", function () { state.page = 1; syncLightButtons(); scheduleLoad(0); });
  el.filters.addEventListener("reset", function () {
    setTimeout(function () { state.page = 1; syncLightButtons(); scheduleLoad(0); }, 0);
  });
  el.filters.addEventListener("submit", function (e) { e.preventDefault(); });

  var lightButtons = Array.prototype.slice.call(document.querySelectorAll(".cmd-count"));
  lightButtons.forEach(function (b) {
    b.addEventListener("click", function () {
      var sel = el.filters.elements.light;
      sel.value = sel.value === b.dataset.light ? "" : b.dataset.light;
      state.page = 1; syncLightButtons(); scheduleLoad(0);
    });
  });
  function syncLightButtons() {
    var v = el.filters.elements.light.value;
    lightButtons.forEach(function (b) { b.setAttribute("aria-pressed", String(b.dataset.light === v)); });
  }

  // ---- loading the view ----------------------------------------------------------------------
  var timer = null, controller = null;
  function scheduleLoad(delay) {
    clearTimeout(timer);
    timer = setTimeout(load, delay == null ? 250 : delay);
  }

  function load() {
    var b = map.getBounds();
    var q = filterParams();
    q.set("bbox", [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(function (v) { return v.toFixed(6); }).join(","));
    q.set("zoom", String(map.getZoom()));
    q.set("page", String(state.page));
    q.set("page_size", String(PAGE_SIZE));
    if (controller) controller.abort();
    controller = new AbortController();
    state.loading = true;
    el.mapStatus.hidden = false;
    el.mapStatus.textContent = T.loading;
    return request(cfg.urls.cases + "?" + q.toString(), { signal: controller.signal }).then(function (body) {
      state.loading = false;
      state.loads += 1;
      state.error = null;
      el.mapStatus.hidden = true;
      el.listError.hidden = true;
      render(body);
    }).catch(function (err) {
      if (err.name === "AbortError") return;
      state.loading = false;
      state.error = err.message;
      el.mapStatus.hidden = true;
      el.listError.hidden = false;
      el.listError.textContent = T.loadFailed + ": " + err.message;
    });
  }

  function render(body) {
    ["red", "yellow", "green", "none", "total"].forEach(function (k) {
      document.getElementById("cmd-count-" + k).textContent = body.counts[k];
    });
    state.mode = body.map.mode;
    drawCells(body.map.cells);
    if (body.map.mode === "points") drawPoints(body.map.points); else drawClusters(body.map.clusters);
    state.items = body.list.items;
    state.total = body.list.total;
    var pages = Math.max(1, Math.ceil(body.list.total / body.list.page_size));
    if (state.page > pages) { state.page = pages; scheduleLoad(0); }
    el.listTotal.textContent = body.list.total + " " + T.cases;
    el.page.textContent = fmt(T.pageOf, { page: body.list.page, pages: pages });
    el.prev.disabled = body.list.page <= 1;
    el.next.disabled = body.list.page >= pages;
    renderList();
    drawSelected();
  }

  var FLASH_MS = 4000;
  function flashing(marks, id) {
    var until = marks.get(id);
    if (until && until < Date.now()) { marks.delete(id); until = null; }
    return !!until;
  }

  function renderList() {
    var focusedId = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.id : null;
    el.list.textContent = "";
    if (!state.items.length) {
      el.list.appendChild(h("li", { class: "empty", text: T.noCases }));
      return;
    }
    state.items.forEach(function (c) {
      var l = lightOf(c.light);
      var cls = "cmd-row";
      if (c.id === state.selected) cls += " selected";
      if (flashing(state.fresh, c.id)) cls += " flash-new";
      else if (flashing(state.changed, c.id)) cls += " flash-changed";
      var row = h("li", {
        class: cls, tabindex: "-1", "data-id": String(c.id), "aria-selected": String(c.id === state.selected),
        "aria-label": c.number + " " + stateName(c.state) + " " + lightLabel(c.light),
      }, [
        h("span", { class: "light light-" + l, title: lightLabel(c.light) }),
        h("div", { class: "main" }, [
          h("div", { class: "line1" }, [
            h("span", { class: "num", text: c.number }),
            h("span", { class: "state state-" + c.state, text: stateName(c.state) }),
            c.urgency === "urgent" ? h("span", { class: "urgent", text: T.urgent }) : null,
            c.pending ? h("span", { class: "pending", text: T.pending }) : null,
          ]),
          h("div", { class: "line2", text: c.category.name + (c.address ? " · " + c.address : "") }),
          h("div", { class: "line3" }, [
            h("span", { text: when(c.reported_at) }),
            h("span", { text: c.department ? deptName(c.department) : "" }),
            h("span", { text: c.stage_deadline ? T.due + " " + when(c.stage_deadline) : "" }),
          ]),
        ]),
      ]);
      row.addEventListener("click", function () { select(c.id, { fly: true }); });
      el.list.appendChild(row);
    });
    // Roving tabindex: the selected (or first) row is the one Tab reaches.
    var current = el.list.querySelector(".cmd-row.selected") || el.list.querySelector(".cmd-row");
    if (current) current.tabIndex = 0;
    if (focusedId) {
      var again = el.list.querySelector('.cmd-row[data-id="' + focusedId + '"]');
      if (again) { again.tabIndex = 0; again.focus({ preventScroll: true }); }
    }
  }

  el.list.addEventListener("keydown", function (e) {
    var row = e.target.closest(".cmd-row");
    if (!row) return;
    var target = null;
    if (e.key === "ArrowDown") target = row.nextElementSibling;
    else if (e.key === "ArrowUp") target = row.previousElementSibling;
    else if (e.key === "Home") target = el.list.firstElementChild;
    else if (e.key === "End") target = el.list.lastElementChild;
    else if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      select(Number(row.dataset.id), { fly: true, focusDetail: true });
      return;
    } else if (e.key === "PageDown" && !el.next.disabled) { e.preventDefault(); el.next.click(); return; }
    else if (e.key === "PageUp" && !el.prev.disabled) { e.preventDefault(); el.prev.click(); return; }
    if (target && target.classList.contains("cmd-row")) {
      e.preventDefault();
      row.tabIndex = -1; target.tabIndex = 0; target.focus();
      var m = markers.get(Number(target.dataset.id));
      if (m) m.openTooltip();
    }
  });

  el.prev.addEventListener("click", function () { if (state.page > 1) { state.page -= 1; load(); } });
  el.next.addEventListener("click", function () { state.page += 1; load(); });
  map.on("moveend", function () { scheduleLoad(); });

  // ---- case detail ---------------------------------------------------------------------------
  function select(id, opts) {
    opts = opts || {};
    state.selected = id;
    Array.prototype.forEach.call(el.list.querySelectorAll(".cmd-row"), function (r) {
      var on = Number(r.dataset.id) === id;
      r.classList.toggle("selected", on);
      r.setAttribute("aria-selected", String(on));
      r.tabIndex = on ? 0 : -1;
      if (on && opts.focusList) { r.scrollIntoView({ block: "nearest" }); r.focus({ preventScroll: true }); }
    });
    var item = state.items.find(function (c) { return c.id === id; });
    if (opts.fly && item) map.flyTo([item.lat, item.lon], Math.max(map.getZoom(), 17), { duration: 0.6 });
    drawSelected();
    return loadDetail(id).then(function () {
      if (opts.focusDetail) el.detail.focus();
      if (opts.fly && !item && state.detail && state.detail.location) {
        map.flyTo([state.detail.location.lat, state.detail.location.lon], 17, { duration: 0.6 });
      }
    });
  }

  function loadDetail(id, message) {
    el.detail.setAttribute("aria-busy", "true");
    return request(cfg.urls["case"] + "/" + id).then(function (c) {
      if (state.selected !== id) return;
      state.detail = c;
      renderDetail(c, message);
      drawSelected();
      loadDuty(c);
    }).catch(function (err) {
      if (state.selected !== id) return;
      state.detail = null;
      el.detail.textContent = "";
      el.detail.appendChild(h("p", { class: "error", role: "alert", text: err.message }));
    }).finally(function () { el.detail.removeAttribute("aria-busy"); });
  }

  function loadDuty(c) {
    if (!c.location) return;
    var q = new URLSearchParams({ lon: c.location.lon, lat: c.location.lat });
    request(cfg.urls.locate + "?" + q.toString()).then(function (found) {
      var slot = document.getElementById("cmd-duty");
      if (!slot || !state.detail || state.detail.id !== c.id) return;
      var place = document.getElementById("cmd-place");
      if (place) place.textContent = found.street.name + " · " + found.community.name +
        (found.duty_grid ? " · " + found.duty_grid.name : "");
      var i = found.inspector;
      slot.textContent = i ? i.name + " · " + (i.on_duty ? T.onDuty : T.offDuty) + (i.phone ? " · " + i.phone : "") : T.none;
      if (i) slot.className = i.on_duty ? "duty-on" : "duty-off";
    }).catch(function () {
      ["cmd-duty", "cmd-place"].forEach(function (id) {
        var slot = document.getElementById(id);
        if (slot) slot.textContent = T.none;
      });
    });
  }

  function dl(pairs) {
    var list = h("dl", { class: "cmd-facts" });
    pairs.forEach(function (p) {
      if (p[1] == null || p[1] === "") return;
      list.appendChild(h("dt", { text: p[0] }));
      list.appendChild(typeof p[1] === "string" ? h("dd", { text: p[1] }) : h("dd", null, [p[1]]));
    });
    return list;
  }

  function renderDetail(c, message) {
    var l = lightOf(c.light);
    var item = state.items.find(function (x) { return x.id === c.id; });
    el.detail.textContent = "";
    el.detail.appendChild(h("div", { class: "cmd-detail-head" }, [
      h("span", { class: "light light-" + l, title: lightLabel(c.light) }),
      h("h2", { text: c.number }),
      h("span", { class: "state state-" + c.state, id: "cmd-detail-state", text: stateName(c.state) }),
      h("button", { type: "button", class: "icon", "aria-label": T.closeDetail, title: T.closeDetail, text: "×", onclick: function () {
        state.selected = null; state.detail = null; drawSelected();
        el.detail.textContent = ""; el.detail.appendChild(h("p", { class: "hint", text: T.selectHint }));
        renderList();
      } }),
    ]));
    var msg = h("div", { id: "cmd-action-msg", role: "alert", class: message ? "msg " + message.kind : "msg", hidden: !message });
    if (message) msg.textContent = message.text;
    el.detail.appendChild(msg);
    el.detail.appendChild(actionsBlock(c));
    el.detail.appendChild(h("p", { class: "desc", text: c.description }));
    var pending = c.pending_request;
    el.detail.appendChild(dl([
      [T.category, c.category.code + " " + c.category.name],
      [T.light, lightLabel(c.light)],
      [T.address, c.address],
      [T.source, cfg.sourceNames[c.source] || c.source],
      [T.urgency, c.urgency === "urgent" ? T.urgent : null],
      [T.reported, when(c.reported_at)],
      [T.stageDeadline, c.stage_deadline ? when(c.stage_deadline) : null],
      [T.handleDeadline, c.handle_deadline ? when(c.handle_deadline) : null],
      [T.department, c.department ? deptName(c.department) : null],
      [T.suggested, c.suggested_department ? deptName(c.suggested_department) : null],
      [T.pending, pending ? actionName("request_" + pending.kind) + (pending.hours ? " " + pending.hours + " " + T.hours : "") +
        " · " + T.requestedBy + " " + pending.by + (pending.note ? " · " + pending.note : "") : null],
      [T.assignee, c.assignee],
      [T.dutyInspector, h("span", { id: "cmd-duty", text: "…" })],
      [T.place, h("span", { id: "cmd-place", text: "…" })],
      [T.cell, c.cell_code],
      [T.camera, item && item.camera_id],
    ]));
    el.detail.appendChild(h("h3", { text: T.cameras }));
    var cameras = c.cameras || [];
    el.detail.appendChild(cameras.length ? h("ul", { class: "cmd-cameras", id: "cmd-cameras" }, cameras.map(function (cam) {
      return h("li", { class: "cmd-camera" + (cam.reported ? " reported" : ""), "data-device": cam.device_id }, [
        h("span", { class: "camera-name", text: cam.name }),
        cam.reported ? h("span", { class: "badge camera-reported", text: T.reportedThis }) : null,
        h("div", { class: "hint", text: cam.device_id + " · " + fmt(T.metresAway, { m: cam.distance_m }) +
          (cam.sees ? "" : " · " + T.notCovering) }),
        cam.stream_url ? h("a", { class: "camera-stream", href: cam.stream_url, target: "_blank", rel: "noopener",
                                  text: T.openStream }) : null,
      ]);
    })) : h("p", { class: "hint", text: T.noCameras }));
    el.detail.appendChild(h("h3", { text: T.photos }));
    if (c.photos.length) {
      el.detail.appendChild(h("div", { class: "cmd-photos" }, c.photos.map(function (p) {
        return h("a", { href: p.url, target: "_blank", rel: "noopener" }, [
          h("img", { src: p.url, alt: actionName(p.stage) + " " + p.id, loading: "lazy", width: "96", height: "72" }),
        ]);
      })));
    } else {
      el.detail.appendChild(h("p", { class: "hint", text: T.noPhotos }));
    }
    el.detail.appendChild(h("h3", { text: T.timeline }));
    el.detail.appendChild(h("ol", { class: "cmd-timeline" }, c.timeline.slice().reverse().map(function (e) {
      return h("li", null, [
        h("time", { datetime: e.at, text: when(e.at) }),
        h("b", { text: actionName(e.action) }),
        h("span", { text: " " + e.actor + (e.from ? " · " + stateName(e.from) + " → " + stateName(e.to) : " · " + stateName(e.to)) }),
        e.note ? h("div", { class: "note", text: e.note }) : null,
      ]);
    })));
  }

  // Actions whose form needs a reason, and what else each asks for.
  var NEEDS_NOTE = { reject: true, void: true, mark_duplicate: true, deny: true };

  function actionsBlock(c) {
    var box = h("div", { class: "cmd-actions" });
    var actions = c.allowed_actions || [];
    if (!actions.length) { box.appendChild(h("p", { class: "hint", text: T.noActions })); return box; }
    var form = h("form", { class: "cmd-action-form", hidden: true });
    actions.forEach(function (a) {
      if (a === "dispatch") {
        if (c.suggested_department) {
          box.appendChild(h("button", { type: "button", class: "primary", "data-action": "dispatch",
            text: fmt(T.dispatchTo, { name: deptName(c.suggested_department) }),
            onclick: function () { act(c, "dispatch", {}); } }));
        }
        box.appendChild(h("button", { type: "button", class: "secondary", "data-action": "dispatch-other",
          text: T.dispatchOther, onclick: function () { openForm(form, c, "dispatch", { department: true }); } }));
      } else if (a === "approve" && c.pending_request) {
        box.appendChild(h("button", { type: "button", class: "primary", "data-action": "approve",
          text: actionName("approve") + " · " + actionName("request_" + c.pending_request.kind),
          onclick: function () { act(c, "approve", {}); } }));
      } else if (a === "close") {
        box.appendChild(h("button", { type: "button", class: "primary", "data-action": "close",
          text: actionName("close"), onclick: function () { openForm(form, c, "close", { outcome: true }); } }));
      } else if (a === "mark_duplicate") {
        box.appendChild(h("button", { type: "button", class: "secondary", "data-action": a, text: actionName(a),
          onclick: function () { openForm(form, c, a, { note: true, duplicate: true }); } }));
      } else if (NEEDS_NOTE[a]) {
        box.appendChild(h("button", { type: "button", class: a === "deny" ? "secondary" : "danger", "data-action": a,
          text: actionName(a), onclick: function () { openForm(form, c, a, { note: true }); } }));
      } else if (["accept", "send_verify", "file", "urge", "resume", "send_check"].indexOf(a) >= 0) {
        box.appendChild(h("button", { type: "button", class: a === "urge" ? "secondary" : "primary", "data-action": a,
          text: actionName(a), onclick: function () { act(c, a, {}); } }));
      }
    });
    box.appendChild(form);
    return box;
  }

  function openForm(form, c, action, need) {
    form.textContent = "";
    form.hidden = false;
    form.appendChild(h("h4", { text: actionName(action) }));
    if (need.department) {
      var sel = h("select", { name: "department", required: true });
      state.departments.forEach(function (d) {
        sel.appendChild(h("option", { value: d.code, text: d.name, selected: d.code === c.suggested_department }));
      });
      form.appendChild(h("label", null, [T.pickDepartment, sel]));
    }
    if (need.outcome) {
      var out = h("select", { name: "outcome" }, [
        h("option", { value: "normal", text: T.normal }), h("option", { value: "special", text: T.special }),
      ]);
      form.appendChild(h("label", null, [T.outcome, out]));
    }
    if (need.duplicate) {
      form.appendChild(h("label", null, [T.duplicateOf, h("input", { name: "duplicate_of", required: true, maxlength: "20" })]));
    }
    form.appendChild(h("label", null, [need.note ? T.reason : T.note,
      h("textarea", { name: "note", rows: "2", required: !!need.note, maxlength: "4000" })]));
    form.appendChild(h("div", { class: "row" }, [
      h("button", { type: "submit", class: "primary", text: T.send }),
      h("button", { type: "button", class: "secondary", text: T.cancel, onclick: function () { form.hidden = true; } }),
    ]));
    form.onsubmit = function (e) {
      e.preventDefault();
      var extra = {};
      var f = form.elements;
      if (f.department) extra.department = f.department.value;
      if (f.outcome) extra.outcome = f.outcome.value;
      if (f.duplicate_of) extra.duplicate_of = f.duplicate_of.value.trim();
      if (f.note.value.trim()) extra.note = f.note.value.trim();
      if (extra.outcome === "special" && !extra.note) { f.note.required = true; f.note.reportValidity(); return; }
      act(c, action, extra);
    };
    var first = form.querySelector("select, input, textarea");
    if (first) first.focus();
  }

  function act(c, action, extra) {
    var buttons = el.detail.querySelectorAll(".cmd-actions button");
    Array.prototype.forEach.call(buttons, function (b) { b.disabled = true; });
    var body = Object.assign({ action: action, version: c.version }, extra);
    state.acting = c.id;  // our own action's event needs no reload: the response has the case
    return request(cfg.urls["case"] + "/" + c.id + "/actions", { method: "POST", json: body }).then(function (resp) {
      state.detail = resp.case;
      state.changed.set(c.id, Date.now() + FLASH_MS);
      renderDetail(resp.case, { kind: "ok", text: fmt(T.done, { action: actionName(action) }) });
      loadDuty(resp.case);
      toast(resp.case.number + " · " + fmt(T.done, { action: actionName(action) }), "ok");
      scheduleLoad(0);
    }).catch(function (err) {
      var text = T.actionFailed + ": " + err.message;
      if (err.status === 409) text = T.stale + " (" + err.message + ")";
      // Show why, with the case as it is now (its version, state and actions may have moved on).
      loadDetail(c.id, { kind: "error", text: text });
    }).finally(function () { state.acting = null; });
  }

  // ---- live updates --------------------------------------------------------------------------
  var source = null, everOpen = false, broken = false;
  function setLive(s) {
    state.live = s;
    el.live.dataset.state = s;
    el.live.textContent = s === "open" ? T.live : T.offline;
  }
  function connect() {
    source = new EventSource(cfg.urls.stream);
    source.addEventListener("open", function () {
      setLive("open");
      if (broken) { broken = false; scheduleLoad(0); }
      everOpen = true;
    });
    source.addEventListener("error", function () {
      if (everOpen) broken = true;
      setLive("reconnecting");
    });
    source.addEventListener("case", function (msg) {
      var e;
      try { e = JSON.parse(msg.data); } catch (err) { return; }
      state.events += 1;
      if (e.action === "report") {
        state.fresh.set(e.id, Date.now() + FLASH_MS);
        toast(T.newCase + " " + e.number, "new");
      } else {
        state.changed.set(e.id, Date.now() + FLASH_MS);
      }
      // Update the row at once; the debounced reload brings list, map and counts in line.
      var row = el.list.querySelector('.cmd-row[data-id="' + e.id + '"]');
      if (row) {
        var st = row.querySelector(".state");
        if (st) { st.textContent = stateName(e.state); st.className = "state state-" + e.state; }
        var lt = row.querySelector(".light");
        if (lt) lt.className = "light light-" + lightOf(e.light);
        row.classList.remove("flash-changed"); void row.offsetWidth; row.classList.add("flash-changed");
      }
      var m = markers.get(e.id);
      if (m) m.setStyle({ fillColor: LIGHT_COLOURS[lightOf(e.light)] });
      if (state.selected === e.id && state.acting !== e.id && (!state.detail || state.detail.state !== e.state || e.action === "urge")) {
        loadDetail(e.id);
      }
      scheduleLoad(600);
    });
    source.addEventListener("resync", function () { toast(T.resynced); scheduleLoad(0); });
  }

  // ---- start ---------------------------------------------------------------------------------
  window.citygridCommand = {
    map: map, state: state, select: select, reload: load, markers: markers, cells: cellsLayer,
    ready: function () { return !state.loading && state.loads > 0; },
  };
  loadReferenceLists().then(function () { renderList(); });
  load();
  loadInspectors();
  connect();
  setInterval(function () { load(); loadInspectors(); }, REFRESH_MS);
})();
