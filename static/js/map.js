/* citygrid inspector map: loads the unit grid cells in view and shows a cell's details on click.
 *
 * The map itself (Leaflet, streets, communities, an empty cells group) is built server-side by
 * gis.maps with folium; #cg-map-config names its JavaScript variables and carries the
 * translated texts, the community palette and the API URLs.
 */
(function () {
  "use strict";

  var cfg = JSON.parse(document.getElementById("cg-map-config").textContent);
  var C = window.citygrid;
  var esc = C.esc;  // Leaflet tooltips take HTML: labels are text
  var el = C.el;
  var T = cfg.text;
  var map = window[cfg.names.map];
  var cellsGroup = window[cfg.names.cells];
  var communities = window[cfg.names.communities];
  var streets = window[cfg.names.streets];
  var container = map.getContainer();

  // Above this many cached cells, cells far from the view are dropped (memory, redraw time).
  var MAX_CACHED = 6000;
  var COMMUNITY_FILL = 0.3;
  var COMMUNITY_FILL_UNDER_CELLS = 0.06;

  var byCode = new Map();      // cell code -> Leaflet layer, so panning never draws a cell twice
  var loadedBoxes = [];        // [w, s, e, n] boxes whose cells are all loaded
  var controller = null;       // aborts the fetch of a view the user has left
  var highlight = null;
  var lastClick = null;
  var clickInterceptor = null; // set by the inspector tools while a case is being placed

  var state = {
    drawnCells: 0,
    loading: false,
    fetches: 0,
    lastLocate: null,
    error: null,
  };
  // Read by the browser tests and handy in the console.
  window.citygridMap = {
    map: map, state: state, showAt: showAt, refresh: refresh, ready: ready,
    // fn(latlng) -> true when it took the click (then no cell popup opens).
    setClickInterceptor: function (fn) { clickInterceptor = fn; },
    setMyPosition: setMyPosition,
  };

  // True when nothing is loading and the cells of the whole view are drawn (or not wanted).
  function ready() {
    if (state.loading) return false;
    if (!cfg.hasCells || map.getZoom() < cfg.minCellZoom || !map.hasLayer(cellsGroup)) return true;
    return covered(map.getBounds());
  }

  function publish() {
    state.drawnCells = byCode.size;
    container.dataset.cellsDrawn = String(byCode.size);
    container.dataset.cellsLoading = state.loading ? "1" : "0";
  }

  // ---- status line ("zoom in", "loading", errors) -------------------------------------------
  var status = L.DomUtil.create("div", "cg-status", container);
  status.setAttribute("role", "status");
  status.hidden = true;
  var statusError = null;

  function showStatus() {
    var text = null;
    if (statusError) {
      text = statusError;
    } else if (state.loading) {
      text = T.loading;
    } else if (cfg.hasCells && map.getZoom() < cfg.minCellZoom && map.hasLayer(cellsGroup)) {
      text = T.zoomHint;
    }
    status.hidden = !text;
    status.textContent = text || "";
  }

  // ---- cells layer ----------------------------------------------------------------------------
  function colourOf(props) {
    return cfg.palette[props.community_code] || "#9e9e9e";
  }

  var cellsLayer = L.geoJSON(null, {
    style: function (feature) {
      return {
        color: "#37474f",
        weight: 0.7,
        opacity: 0.8,
        fillColor: colourOf(feature.properties),
        fillOpacity: 0.4,
      };
    },
    onEachFeature: function (feature, layer) {
      byCode.set(feature.properties.code, layer);
    },
  });
  cellsLayer.addTo(cellsGroup);

  function addCells(features) {
    var fresh = features.filter(function (f) {
      return f && f.properties && !byCode.has(f.properties.code);
    });
    if (fresh.length) {
      cellsLayer.addData(fresh);
      // Canvas draws in insertion order: keep street outlines and the highlight on top.
      streets.bringToFront();
      if (highlight) highlight.bringToFront();
    }
    publish();
  }

  function evictFarCells() {
    if (byCode.size <= MAX_CACHED) return;
    var keep = map.getBounds().pad(0.5);
    byCode.forEach(function (layer, code) {
      if (!keep.intersects(layer.getBounds())) {
        cellsLayer.removeLayer(layer);
        byCode.delete(code);
      }
    });
    loadedBoxes = [];
    publish();
  }

  function round(v) {
    return Math.round(v * 1e5) / 1e5;
  }

  function covered(bounds) {
    return loadedBoxes.some(function (b) {
      return (
        b[0] <= bounds.getWest() && b[1] <= bounds.getSouth() &&
        b[2] >= bounds.getEast() && b[3] >= bounds.getNorth()
      );
    });
  }

  function refresh() {
    applyZoomStyle();
    if (!cfg.hasCells || map.getZoom() < cfg.minCellZoom || !map.hasLayer(cellsGroup)) {
      showStatus();
      return;
    }
    if (covered(map.getBounds())) {
      showStatus();
      return;
    }
    evictFarCells();
    var b = map.getBounds().pad(0.1);
    var box = [round(b.getWest()), round(b.getSouth()), round(b.getEast()), round(b.getNorth())];
    if (controller) controller.abort();
    controller = new AbortController();
    var params = new URLSearchParams({ bbox: box.join(","), limit: String(cfg.pageSize) });
    loadCells(cfg.cellsUrl + "?" + params.toString(), box, controller);
  }

  async function loadCells(url, box, ctrl) {
    state.loading = true;
    statusError = null;
    publish();
    showStatus();
    try {
      while (url) {
        var resp = await C.api.call(url, { headers: { Accept: "application/geo+json" }, signal: ctrl.signal });
        state.fetches += 1;
        if (resp.status === 401) {
          statusError = T.signedOut;
          window.location.assign(cfg.loginUrl);
          return;
        }
        if (!resp.ok) throw new Error(C.api.problemText(resp.status, resp.body));
        var body = resp.body || {};
        addCells(body.features || []);
        var next = (body.links || []).find(function (l) { return l.rel === "next"; });
        url = next ? next.href : null;
      }
      loadedBoxes.push(box);
    } catch (err) {
      if (err.name === "AbortError") return;
      state.error = String(err);
      statusError = T.loadFailed;
    } finally {
      if (controller === ctrl) {
        state.loading = false;
        controller = null;
      }
      publish();
      showStatus();
    }
  }

  // Below minCellZoom the cells (kept in the cache) leave the map and communities show alone;
  // above it communities fade under the cells so the cells' colours stay readable.
  function applyZoomStyle() {
    var wanted = map.getZoom() >= cfg.minCellZoom;
    if (wanted && !cellsGroup.hasLayer(cellsLayer)) {
      cellsGroup.addLayer(cellsLayer);
      streets.bringToFront();
      if (highlight) highlight.bringToFront();
    } else if (!wanted && cellsGroup.hasLayer(cellsLayer)) {
      cellsGroup.removeLayer(cellsLayer);
    }
    var showingCells = wanted && map.hasLayer(cellsGroup);
    container.dataset.cellsShown = showingCells ? "1" : "0";
    communities.setStyle({ fillOpacity: showingCells ? COMMUNITY_FILL_UNDER_CELLS : COMMUNITY_FILL });
  }

  // ---- click: authoritative details from /grid/locate -----------------------------------------
  function row(dl, label, value) {
    dl.appendChild(el("dt", null, label));
    var dd = el("dd");
    if (value instanceof Node) dd.appendChild(value); else dd.textContent = value;
    dl.appendChild(dd);
  }

  function nameAndCode(name, code) {
    var span = el("span");
    span.appendChild(document.createTextNode(name + " "));
    span.appendChild(el("span", "mono", code));
    return span;
  }

  function details(info) {
    var box = el("div", "cg-popup");
    var code = el("p", "cg-code", info.cell.code);
    code.title = T.cell;
    code.dataset.code = info.cell.code;
    box.appendChild(el("div", "cg-kind", T.cell));
    box.appendChild(code);
    var dl = el("dl");
    row(dl, T.community, nameAndCode(info.community.name, info.community.code));
    row(dl, T.street, nameAndCode(info.street.name, info.street.code));
    row(dl, T.dutyGrid, info.duty_grid ? nameAndCode(info.duty_grid.name, info.duty_grid.code) : T.none);
    if (info.inspector) {
      var who = el("span");
      who.appendChild(document.createTextNode(info.inspector.name + " "));
      who.appendChild(
        el("span", info.inspector.on_duty ? "cg-duty-on" : "cg-duty-off",
           info.inspector.on_duty ? T.onDuty : T.offDuty)
      );
      row(dl, T.inspector, who);
      if (info.inspector.phone) {
        var tel = el("a", null, info.inspector.phone);
        tel.href = "tel:" + info.inspector.phone.replace(/[^0-9+]/g, "");
        row(dl, T.phone, tel);
      }
    } else {
      row(dl, T.inspector, T.none);
    }
    row(dl, T.area, Math.round(info.cell.area_m2).toLocaleString() + " m²");
    box.appendChild(dl);
    return box;
  }

  function message(text, isError) {
    var box = el("div", "cg-popup");
    box.appendChild(el("p", isError ? "error" : null, text));
    return box;
  }

  function setHighlight(feature) {
    if (highlight) map.removeLayer(highlight);
    highlight = null;
    container.dataset.highlight = feature ? feature.properties.code : "";
    if (!feature) return;
    highlight = L.geoJSON(feature, {
      interactive: false,
      style: { color: "#d81b60", weight: 3, opacity: 1, fillColor: "#d81b60", fillOpacity: 0.2 },
    }).addTo(map);
  }

  async function cellFeature(code, latlng) {
    var cached = byCode.get(code);
    if (cached) return cached.feature;
    // Not drawn (zoomed out): ask for the cells at the point.
    var d = 1e-6;
    var params = new URLSearchParams({
      bbox: [latlng.lng - d, latlng.lat - d, latlng.lng + d, latlng.lat + d].join(","),
      limit: "10",
    });
    var resp = await C.api.call(cfg.cellsUrl + "?" + params.toString(), { headers: { Accept: "application/geo+json" } });
    if (!resp.ok) return null;
    var body = resp.body || {};
    return (body.features || []).find(function (f) { return f.properties.code === code; }) || null;
  }

  var popup = L.popup({ maxWidth: 380, autoPanPadding: [24, 24] });
  popup.on("remove", function () { setHighlight(null); });

  async function showAt(latlng) {
    var seq = {};
    lastClick = seq;
    popup.setLatLng(latlng).setContent(message(T.locating)).openOn(map);
    state.lastLocate = { pending: true };
    container.dataset.locate = "pending";
    try {
      var params = new URLSearchParams({ lon: latlng.lng.toFixed(7), lat: latlng.lat.toFixed(7) });
      var resp = await C.api.call(cfg.locateUrl + "?" + params.toString());
      if (lastClick !== seq) return;
      if (resp.status === 401) {
        popup.setContent(message(T.signedOut, true));
        window.location.assign(cfg.loginUrl);
        return;
      }
      if (resp.status === 404) {
        setHighlight(null);
        popup.setContent(message(T.outside, true));
        state.lastLocate = { outside: true };
        container.dataset.locate = "outside";
        return;
      }
      if (!resp.ok) throw new Error(C.api.problemText(resp.status, resp.body));
      var info = resp.body;
      popup.setContent(details(info));
      state.lastLocate = info;
      container.dataset.locate = info.cell.code;
      var feature = await cellFeature(info.cell.code, latlng);
      if (lastClick === seq && map.hasLayer(popup)) setHighlight(feature);
    } catch (err) {
      if (lastClick !== seq) return;
      popup.setContent(message(T.locateFailed, true));
      state.lastLocate = { error: String(err) };
      container.dataset.locate = "error";
    }
  }

  // A canvas click may reach both a layer and the map; act once per DOM event.
  var lastEvent = null;
  function onClick(e) {
    if (e.originalEvent && e.originalEvent === lastEvent) return;
    lastEvent = e.originalEvent;
    if (clickInterceptor && clickInterceptor(e.latlng)) return;
    showAt(e.latlng);
  }
  map.on("click", onClick);
  [communities, cellsLayer].forEach(function (layer) { layer.on("click", onClick); });

  // ---- my duty grid ---------------------------------------------------------------------------
  // Its outline sits in a pane above the cells, so cell fills drawn later never hide it.
  var dutyGrids = (cfg.myDuty && cfg.myDuty.features) || [];
  if (dutyGrids.length) {
    var dutyPane = map.createPane("cgDuty");
    dutyPane.style.zIndex = 450;
    dutyPane.style.pointerEvents = "none";
    var duty = L.geoJSON(cfg.myDuty, {
      pane: "cgDuty",
      renderer: L.svg({ pane: "cgDuty" }),
      interactive: false,
      style: { color: "#c2185b", weight: 4, dashArray: "8 6", fill: false },
    }).addTo(map);
    map.fitBounds(duty.getBounds(), { padding: [24, 24], maxZoom: 17 });
  }

  // ---- legend ---------------------------------------------------------------------------------
  var Legend = L.Control.extend({
    options: { position: "bottomright" },
    onAdd: function () {
      var div = L.DomUtil.create("div", "cg-legend");
      // On a phone the legend folds to its heading; a tap (or Enter) unfolds it.
      var head = el("h2", null, T.legend);
      head.tabIndex = 0;
      head.setAttribute("role", "button");
      head.setAttribute("aria-expanded", "false");
      function toggleLegend() {
        var open = div.classList.toggle("cg-legend-open");
        head.setAttribute("aria-expanded", open ? "true" : "false");
      }
      L.DomEvent.on(head, "click", toggleLegend);
      L.DomEvent.on(head, "keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") { L.DomEvent.preventDefault(e); toggleLegend(); }
      });
      div.appendChild(head);
      var ul = el("ul");
      cfg.communities.forEach(function (c) {
        var li = el("li");
        var sw = el("span", "cg-swatch");
        sw.style.background = cfg.palette[c.code] || "#9e9e9e";
        li.appendChild(sw);
        li.appendChild(el("span", null, c.name));
        ul.appendChild(li);
      });
      div.appendChild(ul);
      dutyGrids.forEach(function (f) {
        var p = el("p", "cg-legend-duty");
        p.appendChild(el("span", "cg-swatch cg-swatch-duty"));
        p.appendChild(el("span", null, T.myDutyGrid + "：" + f.properties.name));
        div.appendChild(p);
      });
      L.DomEvent.disableClickPropagation(div);
      L.DomEvent.disableScrollPropagation(div);
      return div;
    },
  });
  if (cfg.communities.length) new Legend().addTo(map);

  // ---- locate me (GPS) ------------------------------------------------------------------------
  var gpsMarker = null;
  var gpsAccuracy = null;

  // One "you are here" dot (and accuracy ring), fed by the locate button and the inspector's GPS watch.
  function setMyPosition(latlng, accuracy, label) {
    if (!gpsMarker) {
      var pane = map.getPane("cgMe") || map.createPane("cgMe");
      pane.style.zIndex = 620;
      gpsAccuracy = L.circle(latlng, {
        pane: "cgMe", radius: accuracy || 0, color: "#1976d2", weight: 1, fillOpacity: 0.1, interactive: false,
      }).addTo(map);
      gpsMarker = L.circleMarker(latlng, {
        pane: "cgMe", radius: 8, color: "#fff", weight: 3, fillColor: "#1976d2", fillOpacity: 1, interactive: false,
      }).addTo(map);
    }
    gpsMarker.setLatLng(latlng);
    gpsAccuracy.setLatLng(latlng).setRadius(accuracy || 0);
    container.dataset.myPosition = latlng.lat.toFixed(6) + "," + latlng.lng.toFixed(6);
    if (label) gpsMarker.bindTooltip(esc(label));
  }
  var LocateMe = L.Control.extend({
    options: { position: "topleft" },
    onAdd: function () {
      var div = L.DomUtil.create("div", "leaflet-bar cg-locate");
      var a = el("a", null, "◎");
      a.href = "#";
      a.title = T.locateMe;
      a.setAttribute("role", "button");
      a.setAttribute("aria-label", T.locateMe);
      L.DomEvent.on(a, "click", function (e) {
        L.DomEvent.preventDefault(e);
        L.DomEvent.stopPropagation(e);
        map.locate({ setView: true, maxZoom: 17, enableHighAccuracy: true });
      });
      div.appendChild(a);
      return div;
    },
  });
  new LocateMe().addTo(map);
  map.on("locationfound", function (e) {
    setMyPosition(e.latlng, e.accuracy);
    showAt(e.latlng);
  });
  map.on("locationerror", function () {
    statusError = T.noGps;
    showStatus();
    setTimeout(function () { statusError = null; showStatus(); }, 4000);
  });

  // ---- wiring ---------------------------------------------------------------------------------
  map.on("zoomend", applyZoomStyle);
  map.on("moveend", refresh);
  map.on("overlayadd overlayremove", refresh);
  publish();
  refresh();
})();
