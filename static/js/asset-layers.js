/* citygrid asset overlays: underground pipelines, video cameras, buildings and management
 * components on a page's Leaflet map, loaded by bbox from /api/v1/<layer> (the asset contract).
 *
 * templates/_asset_layers.html loads this after Leaflet and before the page builds its map.
 * Each layer control made afterwards (folium's on /map, command.js's on /command) is noted;
 * once the page has loaded, the four overlays join that control, off by default (an
 * inspector's phone map stays uncluttered) and remembered per page in localStorage.
 * An overlay fetches only when it is on and the zoom is high enough, aborts the fetch of a
 * view the user has left, caps the features per view and tolerates a layer whose endpoint
 * answers 404 (not deployed yet) or nothing.
 */
(function () {
  "use strict";

  var cfgNode = document.getElementById("cg-assets-config");
  if (!cfgNode || !window.L) return;
  var cfg = JSON.parse(cfgNode.textContent);
  var T = cfg.text;
  // The layer control shows overlay names as HTML; popups below are built as DOM (text only).
  var C = window.citygrid;
  var esc = C.esc;
  var el = C.el;   // text only: feature properties never become HTML
  var fmt = C.fmt;

  var controls = [];
  L.Control.Layers.addInitHook(function () { controls.push(this); });

  var api = { instances: [], attach: attach };
  window.citygridAssets = api;

  function start() {
    controls.forEach(function (control) {
      var map = control._map;
      if (!map) return;
      if (api.instances.some(function (i) { return i.map === map; })) return;
      attach(map, control);
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else setTimeout(start, 0);

  function num(v, digits) {
    return typeof v === "number" ? String(Math.round(v * Math.pow(10, digits)) / Math.pow(10, digits)) : v;
  }

  function popupBox(kind, title, rows, link) {
    var box = el("div", "cg-asset-popup");
    box.appendChild(el("div", "cg-asset-kind", kind));
    box.appendChild(el("p", "cg-asset-title", title));
    var dl = el("dl");
    rows.forEach(function (r) {
      if (r[1] === null || r[1] === undefined || r[1] === "") return;
      dl.appendChild(el("dt", null, r[0]));
      dl.appendChild(el("dd", null, r[1]));
    });
    box.appendChild(dl);
    if (link) {
      var p = el("p", "cg-asset-link");
      var a = el("a", null, link.text);
      a.href = link.href;
      if (link.external) { a.target = "_blank"; a.rel = "noopener"; }
      p.appendChild(a);
      box.appendChild(p);
    }
    return box;
  }

  function statusName(s) { return (T.statusNames && T.statusNames[s]) || s; }

  // ---- the four layers ------------------------------------------------------------------------------
  var CAMERA_COLOURS = { online: "#1565c0", offline: "#78909c", fault: "#c62828", retired: "#9e9e9e" };
  var COMPONENT_COLOURS = ["#6a1b9a", "#00838f", "#ef6c00", "#2e7d32", "#ad1457", "#4527a0", "#5d4037", "#c0ca33",
                           "#0277bd", "#d84315"];

  function componentColour(code) {
    // Components are coloured by their major class (the first digits of the category code).
    var major = String(code || "").replace(/^[A-Za-z]+/, "").slice(0, 2);
    var n = parseInt(major, 10);
    return COMPONENT_COLOURS[(isNaN(n) ? 0 : n) % COMPONENT_COLOURS.length];
  }

  function pipelinePopup(p) {
    var cls = ((T.classNames && T.classNames[p.class_abbr]) || p.class_name) + " · " + p.subclass_name +
      " (" + p.class_abbr + "/" + p.subclass_abbr + ")";
    var size = p.diameter_mm ? "DN" + num(p.diameter_mm, 0) + " mm" : (p.section ? p.section + " mm" : null);
    return popupBox(T.layers.pipelines, p.code, [
      [T.pipeClass, cls],
      [T.material, !p.material_code ? null : (!p.material_name || p.material_name === p.material_code)
        ? p.material_code : p.material_name + " (" + p.material_code + ")"],
      [T.burial, p.burial_code ? (p.burial_name || p.burial_code) : null],
      [T.size, size],
      [T.depth, num(p.start_depth_m, 2) + " m → " + num(p.end_depth_m, 2) + " m"],
      [T.pressure, p.pressure_mpa !== null && p.pressure_mpa !== undefined ? num(p.pressure_mpa, 3) + " MPa" : null],
      [T.voltage, p.voltage_kv !== null && p.voltage_kv !== undefined ? num(p.voltage_kv, 1) + " kV" : null],
      [T.buildYear, p.build_year],
      [T.owner, p.owner],
      [T.status, statusName(p.status)],
      [T.length, p.length_m !== undefined ? num(p.length_m, 1) + " m" : null],
      [T.cell, p.cell_code],
    ]);
  }

  function cameraPopup(p) {
    var view = [p.azimuth_deg, p.hfov_deg, p.range_m].every(function (v) { return typeof v === "number"; })
      ? num(p.azimuth_deg, 0) + "° / " + num(p.hfov_deg, 0) + "° / " + num(p.range_m, 0) + " m" : null;
    var url = typeof p.stream_url === "string" ? p.stream_url : "";
    var link = /^https?:\/\//i.test(url) ? { href: url, text: T.stream, external: true } : null;
    return popupBox(T.layers.cameras, p.name || p.device_id, [
      [T.deviceId, p.device_id],
      [T.status, statusName(p.status)],
      [T.view, view],
      [T.height, typeof p.height_m === "number" ? num(p.height_m, 1) + " m" : null],
      [T.address, p.address],
      [T.cell, p.cell_code],
    ].concat(url && !link ? [[T.stream, url]] : []), link);
  }

  function buildingPopup(p, id) {
    var use = p.use ? ((T.useNames && T.useNames[p.use]) || p.use) : null;
    return popupBox(T.layers.buildings, p.name || p.code, [
      [T.code, p.code],
      [T.address, p.address],
      [T.use, use],
      [T.floors, p.floors],
      [T.grossArea, typeof p.gross_floor_area_m2 === "number" ? Math.round(p.gross_floor_area_m2).toLocaleString() + " m²" : null],
      [T.buildYear, p.build_year],
      [T.cell, p.cell_code],
    ], id !== undefined && id !== null ? { href: cfg.urls.building + encodeURIComponent(id), text: T.details } : null);
  }

  function componentPopup(p) {
    return popupBox(T.layers.components, p.name || p.component_id, [
      [T.componentId, p.component_id],
      [T.category, p.category_name ? p.category_name + " (" + p.category_code + ")" : p.category_code],
      [T.status, p.status_name || statusName(p.status)],
      [T.owner, p.owner_name || p.owner_department_name],
      [T.maintainer, p.maintainer_name || p.maintainer_department_name],
      [T.cell, p.cell_code],
    ]);
  }

  // Each layer turns a FeatureCollection's features into one Leaflet layer.
  var DEFS = {
    pipelines: {
      build: function (features, o) {
        return L.geoJSON(features, {
          pane: o.pane, renderer: o.renderer, bubblingMouseEvents: false,
          style: function (f) {
            return { color: f.properties.color || "#666666", weight: 4, opacity: 0.95, lineCap: "round" };
          },
          onEachFeature: function (f, layer) {
            layer.bindPopup(function () { return pipelinePopup(f.properties); }, o.popup);
          },
        });
      },
    },
    cameras: {
      build: function (features, o) {
        var group = L.featureGroup();
        features.forEach(function (f) {
          if (!f.geometry || f.geometry.type !== "Point") return;
          var p = f.properties || {};
          var colour = CAMERA_COLOURS[p.status] || CAMERA_COLOURS.online;
          var popup = function () { return cameraPopup(p); };
          if (p.fov && p.fov.type) {
            L.geoJSON(p.fov, {
              pane: o.pane, renderer: o.renderer, bubblingMouseEvents: false,
              style: { color: colour, weight: 1, opacity: 0.7, fillColor: colour, fillOpacity: 0.12 },
            }).bindPopup(popup, o.popup).addTo(group);
          }
          var c = f.geometry.coordinates;
          L.circleMarker([c[1], c[0]], {
            pane: o.pane, renderer: o.renderer, bubblingMouseEvents: false,
            radius: 6, color: "#fff", weight: 2, fillColor: colour, fillOpacity: 1,
          }).bindPopup(popup, o.popup).addTo(group);
        });
        return group;
      },
    },
    buildings: {
      build: function (features, o) {
        return L.geoJSON(features, {
          pane: o.pane, renderer: o.renderer, bubblingMouseEvents: false,
          style: { color: "#5d4037", weight: 1, opacity: 0.9, fillColor: "#bcaaa4", fillOpacity: 0.35 },
          onEachFeature: function (f, layer) {
            layer.bindPopup(function () { return buildingPopup(f.properties || {}, f.id); }, o.popup);
          },
        });
      },
    },
    components: {
      build: function (features, o) {
        return L.geoJSON(features, {
          pane: o.pane, renderer: o.renderer, bubblingMouseEvents: false,
          pointToLayer: function (f, latlng) {
            return L.circleMarker(latlng, {
              pane: o.pane, renderer: o.renderer, bubblingMouseEvents: false,
              radius: 4, color: "#fff", weight: 1, fillColor: componentColour(f.properties.category_code), fillOpacity: 1,
            });
          },
          style: function (f) {
            return { color: componentColour((f.properties || {}).category_code), weight: 2, opacity: 0.9 };
          },
          onEachFeature: function (f, layer) {
            layer.bindPopup(function () { return componentPopup(f.properties || {}); }, o.popup);
          },
        });
      },
    },
  };

  // ---- one map ------------------------------------------------------------------------------------
  function attach(map, control) {
    var container = map.getContainer();
    var paneName = "cgAssets";
    var pane = map.getPane(paneName) || map.createPane(paneName);
    // Above the cells and areas, below markers and popups. The pane lets clicks through except
    // on the drawn assets themselves, so the cells underneath stay clickable.
    pane.style.zIndex = 440;
    pane.style.pointerEvents = "none";
    var opts = { pane: paneName, renderer: L.svg({ pane: paneName, padding: 0.3 }), popup: { maxWidth: 360 } };
    var storageKey = "citygrid.assets:" + window.location.pathname;
    var inst = { map: map, control: control, layers: {}, ready: ready, classes: null };
    api.instances.push(inst);

    var status = L.DomUtil.create("div", "cg-assets-status", container);
    status.setAttribute("role", "status");
    status.hidden = true;

    cfg.layers.forEach(function (name) {
      if (!DEFS[name]) return;
      var layer = {
        name: name, group: L.layerGroup(), drawn: null, controller: null, box: null, complete: false,
        state: "off", shown: 0, total: 0, error: null,
      };
      inst.layers[name] = layer;
      control.addOverlay(layer.group, esc(T.layers[name]));
    });
    saved().forEach(function (name) { if (inst.layers[name]) inst.layers[name].group.addTo(map); });

    function saved() {
      try {
        var v = JSON.parse(window.localStorage.getItem(storageKey) || "[]");
        return Array.isArray(v) ? v : [];
      } catch (e) { return []; }
    }

    function remember() {
      var on = Object.keys(inst.layers).filter(function (n) { return map.hasLayer(inst.layers[n].group); });
      try { window.localStorage.setItem(storageKey, JSON.stringify(on)); } catch (e) { /* private mode */ }
    }

    function byGroup(group) {
      var names = Object.keys(inst.layers);
      for (var i = 0; i < names.length; i++) if (inst.layers[names[i]].group === group) return inst.layers[names[i]];
      return null;
    }

    function ready() {
      return Object.keys(inst.layers).every(function (n) { return inst.layers[n].state !== "loading"; });
    }

    function clear(layer) {
      if (layer.controller) layer.controller.abort();
      layer.controller = null;
      layer.group.clearLayers();
      layer.drawn = null;
      layer.box = null;
      layer.complete = false;
      layer.shown = 0;
      layer.total = 0;
    }

    function publish() {
      var lines = [];
      var groups = { zoom: [], loading: [], error: [], unavailable: [] };
      Object.keys(inst.layers).forEach(function (n) {
        var l = inst.layers[n];
        container.dataset["assets" + n.charAt(0).toUpperCase() + n.slice(1)] = l.state + ":" + l.shown;
        if (groups[l.state]) groups[l.state].push(T.layers[n]);
        if (l.state === "ok" && !l.complete) {
          lines.push(fmt(T.capped, { layer: T.layers[n], shown: l.shown, total: l.total }));
        }
      });
      var sep = T.listSeparator || ", ";
      if (groups.zoom.length) lines.unshift(fmt(T.zoomIn, { layers: groups.zoom.join(sep) }));
      if (groups.loading.length) lines.push(fmt(T.loading, { layers: groups.loading.join(sep) }));
      if (groups.error.length) lines.push(fmt(T.failed, { layers: groups.error.join(sep) }));
      if (groups.unavailable.length) lines.push(fmt(T.unavailable, { layers: groups.unavailable.join(sep) }));
      status.textContent = "";
      lines.forEach(function (line) { status.appendChild(el("div", null, line)); });
      status.hidden = lines.length === 0;
    }

    function round6(v) { return Math.round(v * 1e6) / 1e6; }

    // ``retry`` (the user just switched the overlay on) asks again a layer that answered 404.
    function refresh(layer, retry) {
      if (!map.hasLayer(layer.group)) {
        clear(layer);
        layer.state = "off";
        return;
      }
      if (map.getZoom() < cfg.minZoom[layer.name]) {
        clear(layer);
        layer.state = "zoom";
        return;
      }
      if (layer.state === "unavailable" && !retry) return;
      var view = map.getBounds();
      if (layer.box && layer.complete && layer.box.contains(view) && layer.state === "ok") return;
      if (layer.controller) layer.controller.abort();
      var ctrl = new AbortController();
      layer.controller = ctrl;
      layer.state = "loading";
      var b = view.pad(0.1);
      var bbox = [round6(b.getWest()), round6(b.getSouth()), round6(b.getEast()), round6(b.getNorth())];
      var q = new URLSearchParams({ bbox: bbox.join(","), limit: String(cfg.maxFeatures) });
      C.api.call(cfg.urls[layer.name] + "?" + q.toString(), {
        headers: { Accept: "application/geo+json" }, signal: ctrl.signal,
      }).then(function (resp) {
        if (resp.status === 404 || resp.status === 405) return { unavailable: true };
        if (!resp.ok) throw new Error(C.api.problemText(resp.status, resp.body));
        return resp.body || {};
      }).then(function (body) {
        if (layer.controller !== ctrl) return;
        layer.controller = null;
        if (body.unavailable) {
          layer.group.clearLayers();
          layer.drawn = null;
          layer.state = "unavailable";
          layer.shown = 0;
          return;
        }
        var features = Array.isArray(body.features) ? body.features : [];
        layer.group.clearLayers();
        layer.drawn = DEFS[layer.name].build(features, opts).addTo(layer.group);
        layer.shown = features.length;
        layer.total = typeof body.numberMatched === "number" ? body.numberMatched : features.length;
        layer.complete = layer.shown >= layer.total;
        layer.box = L.latLngBounds([bbox[1], bbox[0]], [bbox[3], bbox[2]]);
        layer.state = "ok";
        layer.error = null;
      }).catch(function (err) {
        if (err && err.name === "AbortError") return;
        if (layer.controller !== ctrl) return;
        layer.controller = null;
        layer.state = "error";
        layer.error = String(err);
      }).then(publish);
    }

    function refreshAll() {
      Object.keys(inst.layers).forEach(function (n) { refresh(inst.layers[n]); });
      publish();
    }

    // ---- pipelines legend (the CJJ 61 classes and colours) -----------------------------------------
    var legend = null;
    var legendLoad = null;

    function legendEntries(classes) {
      var out = [];
      classes.forEach(function (c) {
        var name = (T.classNames && T.classNames[c.class_abbr]) || c.name;
        var colours = {};
        c.subclasses.forEach(function (s) { colours[s.color] = true; });
        if (Object.keys(colours).length <= 1) {
          out.push({ abbr: c.class_abbr, name: name, color: c.color });
        } else {
          // 其他: 综合管沟 and 不明管线 differ in colour, so each gets a line.
          c.subclasses.forEach(function (s) {
            out.push({ abbr: c.class_abbr + "/" + s.subclass_abbr, name: name + " · " + s.name, color: s.color });
          });
        }
      });
      return out;
    }

    var Legend = L.Control.extend({
      options: { position: "bottomleft" },
      onAdd: function () {
        var div = L.DomUtil.create("div", "cg-assets-legend");
        var head = el("h2", null, T.legend);
        head.tabIndex = 0;
        head.setAttribute("role", "button");
        // On a phone the legend starts folded to its heading.
        var folded = window.matchMedia && window.matchMedia("(max-width: 600px)").matches;
        if (folded) div.classList.add("cg-assets-legend-closed");
        head.setAttribute("aria-expanded", folded ? "false" : "true");
        function toggle() {
          var closed = div.classList.toggle("cg-assets-legend-closed");
          head.setAttribute("aria-expanded", closed ? "false" : "true");
        }
        L.DomEvent.on(head, "click", toggle);
        L.DomEvent.on(head, "keydown", function (e) {
          if (e.key === "Enter" || e.key === " ") { L.DomEvent.preventDefault(e); toggle(); }
        });
        div.appendChild(head);
        var ul = el("ul");
        legendEntries(inst.classes).forEach(function (entry) {
          var li = el("li");
          li.dataset.class = entry.abbr;
          var sw = el("span", "cg-assets-line");
          sw.style.background = entry.color;
          li.appendChild(sw);
          li.appendChild(el("span", null, entry.name));
          li.appendChild(el("span", "cg-assets-abbr", entry.abbr));
          ul.appendChild(li);
        });
        div.appendChild(ul);
        L.DomEvent.disableClickPropagation(div);
        L.DomEvent.disableScrollPropagation(div);
        return div;
      },
    });

    function showLegend(on) {
      if (!on) {
        if (legend) { map.removeControl(legend); legend = null; }
        return;
      }
      if (legend) return;
      if (!legendLoad) {
        legendLoad = C.api.get(cfg.urls.classes)
          .then(function (body) { inst.classes = body.classes || []; })
          .catch(function () { legendLoad = null; });
      }
      legendLoad && legendLoad.then(function () {
        var pipes = inst.layers.pipelines;
        if (!legend && inst.classes && pipes && map.hasLayer(pipes.group)) legend = new Legend().addTo(map);
      });
    }

    // ---- wiring -------------------------------------------------------------------------------------
    map.on("overlayadd overlayremove", function (e) {
      var layer = byGroup(e.layer);
      if (!layer) return;
      remember();
      refresh(layer, true);
      if (layer.name === "pipelines") showLegend(e.type === "overlayadd");
      publish();
    });
    map.on("moveend", refreshAll);
    if (inst.layers.pipelines && map.hasLayer(inst.layers.pipelines.group)) showLegend(true);
    refreshAll();
    return inst;
  }
})();
