/* citygrid base map: the district's roads (/api/v1/roads) with their names, under every Leaflet map.
 *
 * templates/_roads_layer.html loads this after Leaflet and before the page builds its map. Every
 * map made afterwards gets the roads: without base tiles (CITYGRID_TILE_URL unset) they are the
 * base layer, always on; with tiles they are an overlay in the map's layer control (off by
 * default, remembered per browser). Roads are drawn on a canvas in their own pane below the
 * page's polygons, as a casing and a fill as wide as the road really is (never thinner than a
 * few pixels for its class); names are placed along the roads by a small routine that keeps
 * them apart on screen, major roads first, so they stay legible on a phone at any zoom.
 *
 * GCJ-02 tiles (CITYGRID_TILE_CRS=gcj02: Amap, Tencent) are drawn shifted so that they line up
 * with our WGS84 layers: the tile grid is positioned as if the map centre were its GCJ-02
 * point. The offset varies by about 2.5 m per km, so one shift per view is exact to within a
 * pixel at every zoom; converting every geometry, click and API call instead would touch each
 * page script. The offsets come from the server (gis/crs.py) as a grid over the district.
 */
(function () {
  "use strict";

  var node = document.getElementById("cg-roads-config");
  if (!node || !window.L || !window.citygrid) return;
  var cfg = JSON.parse(node.textContent);
  var core = window.citygrid;

  // Fill, casing and the narrowest drawing (px) of each class; wide classes are drawn last.
  var STYLE = {
    expressway: { fill: "#f7c873", casing: "#b9802a", min: 6, rank: 4 },
    arterial: { fill: "#fde8a8", casing: "#bf9a45", min: 5, rank: 3 },
    secondary: { fill: "#ffffff", casing: "#8f9aa3", min: 4, rank: 2 },
    branch: { fill: "#ffffff", casing: "#a3acb4", min: 3, rank: 1 },
    alley: { fill: "#fafafa", casing: "#c8cdd2", min: 2, rank: 0 }
  };
  var MAJOR = ["expressway", "arterial"];
  var LABEL_SPACING_PX = 360;
  var MAX_LABELS = 200;
  var MAX_PAGES = 4;
  var STORE_KEY = "cg-roads-overlay";

  var api = { maps: [], toGcj02: toGcj02 };
  window.citygridRoads = api;

  // ---- GCJ-02 tiles ---------------------------------------------------------------------------------
  /** [lat, lng] of WGS84 ``latlng`` in GCJ-02, interpolated in the server's offset grid. */
  function toGcj02(latlng) {
    var g = cfg.gcj02;
    if (!g) return L.latLng(latlng);
    var ll = L.latLng(latlng);
    var fx = clamp((ll.lng - g.bounds[0]) / (g.bounds[2] - g.bounds[0]) * (g.n - 1), 0, g.n - 1);
    var fy = clamp((ll.lat - g.bounds[1]) / (g.bounds[3] - g.bounds[1]) * (g.n - 1), 0, g.n - 1);
    var i = Math.min(Math.floor(fx), g.n - 2), j = Math.min(Math.floor(fy), g.n - 2);
    var tx = fx - i, ty = fy - j;
    function at(values) {
      var a = values[j * g.n + i], b = values[j * g.n + i + 1];
      var c = values[(j + 1) * g.n + i], d = values[(j + 1) * g.n + i + 1];
      return (a * (1 - tx) + b * tx) * (1 - ty) + (c * (1 - tx) + d * tx) * ty;
    }
    return L.latLng(ll.lat + at(g.dlat), ll.lng + at(g.dlon));
  }

  function clamp(v, lo, hi) { return Math.max(lo, Math.min(hi, v)); }

  if (cfg.tileCrs === "gcj02" && cfg.gcj02) {
    // Leaflet places a tile grid around the centre it is given; give it the centre's GCJ-02
    // point, so the tile showing a place is drawn where our layers draw that place.
    var grid = L.GridLayer.prototype;
    var setZoomTransform = grid._setZoomTransform, tiledPixelBounds = grid._getTiledPixelBounds;
    var onMoveEnd = grid._onMoveEnd;
    L.TileLayer.include({
      _setZoomTransform: function (level, center, zoom) {
        return setZoomTransform.call(this, level, toGcj02(center), zoom);
      },
      _getTiledPixelBounds: function (center) {
        return tiledPixelBounds.call(this, toGcj02(center));
      },
      _onMoveEnd: function () {
        onMoveEnd.call(this);
        // After a pan the offset of the new centre applies (it drifts ~2.5 m per km).
        if (this._map && !this._map._animatingZoom) this._setZoomTransforms(this._map.getCenter(), this._map.getZoom());
      }
    });
  }

  // ---- which maps and controls the page makes ------------------------------------------------------
  var controls = [];
  L.Control.Layers.addInitHook(function () { controls.push(this); });
  L.Map.addInitHook(function () {
    var map = this;
    // After the page's own script has added its tiles and layer control.
    setTimeout(function () { attach(map); }, 0);
  });

  function attach(map) {
    if (map._cgRoads || !map._container) return;
    var roads = new Roads(map);
    map._cgRoads = roads;
    api.maps.push(roads);
    if (cfg.mode === "overlay") {
      var control = controls.filter(function (c) { return c._map === map; })[0];
      if (!control) control = L.control.layers(null, null, { collapsed: true }).addTo(map);
      control.addOverlay(roads.layer, core.esc(cfg.text.layer));
      var on = false;
      try { on = localStorage.getItem(STORE_KEY) === "1"; } catch (e) { /* private mode */ }
      if (on) roads.layer.addTo(map);
      map.on("overlayadd overlayremove", function (e) {
        if (e.layer !== roads.layer) return;
        try { localStorage.setItem(STORE_KEY, e.type === "overlayadd" ? "1" : "0"); } catch (err) { /* ignore */ }
      });
    } else {
      roads.layer.addTo(map);
    }
  }

  // ---- one map's roads ------------------------------------------------------------------------------
  function Roads(map) {
    var self = this;
    this.map = map;
    pane(map, "cgRoads", 250);
    pane(map, "cgRoadLabels", 450);
    this.renderer = L.canvas({ pane: "cgRoads", padding: 0.3 });
    this.lines = L.layerGroup();
    this.labels = L.layerGroup();
    this.layer = L.layerGroup([this.lines, this.labels]);
    this.drawn = [];
    this.loaded = null;
    this.request = null;
    this.timer = null;
    this.layer.on("add", function () { map.on("moveend", self.schedule, self); map.on("zoomend", self.restyle, self); self.load(); });
    this.layer.on("remove", function () {
      map.off("moveend", self.schedule, self); map.off("zoomend", self.restyle, self);
      if (self.request) self.request.abort();
      self.loaded = null;
    });
  }

  function pane(map, name, z) {
    if (map.getPane(name)) return;
    var el = map.createPane(name);
    el.style.zIndex = String(z);
    el.style.pointerEvents = "none";  // the page's cells and markers get every click
  }

  Roads.prototype.schedule = function () {
    var self = this;
    clearTimeout(this.timer);
    this.timer = setTimeout(function () { self.load(); }, 120);
  };

  /** The classes worth fetching at the current zoom (all of them from cfg.allClassesZoom on). */
  Roads.prototype.classes = function () {
    return this.map.getZoom() >= cfg.allClassesZoom ? null : MAJOR;
  };

  Roads.prototype.load = function () {
    var map = this.map, self = this;
    if (map.getZoom() < cfg.minZoom) { this.show([]); this.loaded = null; return; }
    var view = map.getBounds();
    var classes = this.classes();
    var key = classes ? classes.join(",") : "all";
    if (this.loaded && this.loaded.key === key && this.loaded.bounds.contains(view)) { this.label(); return; }
    var want = view.pad(0.25);
    if (cfg.bounds) {
      var b = cfg.bounds;
      want = L.latLngBounds([Math.max(want.getSouth(), b[1]), Math.max(want.getWest(), b[0])],
                            [Math.min(want.getNorth(), b[3]), Math.min(want.getEast(), b[2])]);
      if (want.getSouth() >= want.getNorth() || want.getWest() >= want.getEast()) { this.show([]); return; }
    }
    if (this.request) this.request.abort();
    var request = this.request = new AbortController();
    var url = cfg.url + "?bbox=" + [want.getWest(), want.getSouth(), want.getEast(), want.getNorth()]
      .map(function (v) { return v.toFixed(6); }).join(",") + "&limit=" + cfg.pageSize + (classes ? "&class=" + key : "");
    var features = [];
    function page(href, n) {
      return core.api.get(href, { headers: { Accept: "application/geo+json" }, signal: request.signal })
        .then(function (body) {
          features = features.concat(body.features || []);
          var next = (body.links || []).filter(function (l) { return l.rel === "next"; })[0];
          return next && n < MAX_PAGES ? page(next.href, n + 1) : features;
        });
    }
    page(url, 1).then(function (all) {
      if (request.signal.aborted) return;
      self.request = null;
      // The box that was asked for, so a pan inside it does not fetch again.
      self.loaded = { key: key, bounds: want };
      self.show(all);
    }).catch(function (err) {
      if (err && err.name === "AbortError") return;
      self.request = null;
      if (window.console) console.warn(err);  // the base map is a help, never a blocker
    });
  };

  /** Draw ``features``: every casing first, then every fill, so crossings merge. */
  Roads.prototype.show = function (features) {
    var renderer = this.renderer, lines = this.lines;
    lines.clearLayers();
    var drawn = this.drawn = features.map(function (f) {
      var p = f.properties || {};
      var style = STYLE[p.road_class] || STYLE.branch;
      var parts = L.GeoJSON.coordsToLatLngs(f.geometry.coordinates, f.geometry.type === "MultiLineString" ? 1 : 0);
      if (f.geometry.type !== "MultiLineString") parts = [parts];
      var name = (cfg.english && p.name_en) || p.name || "";
      return { name: name, width: p.width_m || 10, style: style, parts: parts, casing: null, fill: null };
    });
    drawn.forEach(function (d) {
      d.casing = L.polyline(d.parts, { renderer: renderer, color: d.style.casing, interactive: false,
                                       lineCap: "butt", lineJoin: "round", opacity: 1 });
      lines.addLayer(d.casing);
    });
    drawn.forEach(function (d) {
      d.fill = L.polyline(d.parts, { renderer: renderer, color: d.style.fill, interactive: false,
                                     lineCap: "round", lineJoin: "round", opacity: 1 });
      lines.addLayer(d.fill);
    });
    this.restyle();
  };

  /** Line widths for the zoom: the road's real width, never below its class's minimum. */
  Roads.prototype.restyle = function () {
    var map = this.map;
    var lat = map.getCenter().lat * Math.PI / 180;
    var metresPerPx = 40075016.686 * Math.cos(lat) / Math.pow(2, map.getZoom() + 8);
    this.drawn.forEach(function (d) {
      var px = Math.min(120, Math.max(d.style.min, d.width / metresPerPx));
      d.casing.setStyle({ weight: px + 3 });
      d.fill.setStyle({ weight: px });
    });
    this.label();
  };

  // ---- names along the roads ------------------------------------------------------------------------
  var measure = document.createElement("canvas").getContext("2d");
  var widths = {};
  function textWidth(text, px) {
    var k = px + "|" + text;
    if (!(k in widths)) {
      measure.font = "700 " + px + "px sans-serif";
      widths[k] = measure.measureText(text).width;
    }
    return widths[k];
  }

  /** Place names at points along each road, major roads first, none overlapping another. */
  Roads.prototype.label = function () {
    var map = this.map, labels = this.labels;
    labels.clearLayers();
    if (map.getZoom() < cfg.labelZoom) return;
    var size = map.getSize();
    var view = L.bounds(L.point(0, 0), size);
    var placed = [];
    var order = this.drawn.filter(function (d) { return d.name; }).sort(function (a, b) {
      return b.style.rank - a.style.rank || b.width - a.width;
    });
    for (var k = 0; k < order.length && placed.length < MAX_LABELS; k++) {
      var d = order[k];
      var font = d.style.rank >= 3 ? 15 : 13;
      var w = textWidth(d.name, font) + 10, h = font + 8;
      d.parts.forEach(function (latlngs) {
        var pts = latlngs.map(function (ll) { return map.latLngToContainerPoint(ll); });
        candidates(pts, w, view).forEach(function (c) {
          if (placed.length >= MAX_LABELS) return;
          var cos = Math.abs(Math.cos(c.angle)), sin = Math.abs(Math.sin(c.angle));
          var box = { x: c.p.x, y: c.p.y, hw: (w * cos + h * sin) / 2 + 3, hh: (w * sin + h * cos) / 2 + 3 };
          if (box.x - box.hw < 0 || box.y - box.hh < 0 || box.x + box.hw > size.x || box.y + box.hh > size.y) return;
          for (var i = 0; i < placed.length; i++) {
            var o = placed[i];
            if (Math.abs(o.x - box.x) < o.hw + box.hw && Math.abs(o.y - box.y) < o.hh + box.hh) return;
          }
          placed.push(box);
          labels.addLayer(labelMarker(map.containerPointToLatLng(c.p), d.name, c.angle, font));
        });
      });
    }
  };

  /** Label points (with the direction there) on the part of a screen polyline inside ``view``:
   *  the middle of each visible stretch, or every LABEL_SPACING_PX along a long one. The
   *  direction is the chord across the label's width, so curved roads (the CBD rings) are
   *  named too; a point where the road bends within the label is skipped. */
  function candidates(pts, labelWidth, view) {
    var cum = [0];
    for (var i = 1; i < pts.length; i++) cum.push(cum[i - 1] + pts[i].distanceTo(pts[i - 1]));
    var total = cum[cum.length - 1];
    if (total < labelWidth) return [];
    // Visible stretches in arc length, from each segment clipped to the view.
    var runs = [];
    for (var k = 1; k < pts.length; k++) {
      var len = cum[k] - cum[k - 1];
      if (!len) continue;
      var clipped = L.LineUtil.clipSegment(pts[k - 1], pts[k], view, false, true);
      if (!clipped) continue;
      var s0 = cum[k - 1] + clipped[0].distanceTo(pts[k - 1]), s1 = cum[k - 1] + clipped[1].distanceTo(pts[k - 1]);
      var last = runs[runs.length - 1];
      if (last && s0 - last[1] < 1) last[1] = s1; else runs.push([s0, s1]);
    }
    var stops = [];
    runs.forEach(function (r) {
      var span = r[1] - r[0];
      if (span < labelWidth) return;
      if (span < LABEL_SPACING_PX) stops.push((r[0] + r[1]) / 2);
      else for (var s = r[0] + LABEL_SPACING_PX / 2; s < r[1]; s += LABEL_SPACING_PX) stops.push(s);
    });
    var out = [];
    stops.forEach(function (s) {
      var a = pointAt(pts, cum, Math.max(0, s - labelWidth / 2)), b = pointAt(pts, cum, Math.min(total, s + labelWidth / 2));
      if (a.distanceTo(b) < labelWidth * 0.85) return;  // a bend: the name would leave the road
      var angle = Math.atan2(b.y - a.y, b.x - a.x);
      if (angle > Math.PI / 2) angle -= Math.PI;  // never upside down
      if (angle < -Math.PI / 2) angle += Math.PI;
      out.push({ p: pointAt(pts, cum, s), angle: angle });
    });
    return out;
  }

  /** The point ``s`` pixels along the polyline ``pts`` (``cum``: the length up to each vertex). */
  function pointAt(pts, cum, s) {
    var i = 1;
    while (i < pts.length - 1 && cum[i] < s) i++;
    var len = cum[i] - cum[i - 1], t = len ? (s - cum[i - 1]) / len : 0;
    return L.point(pts[i - 1].x + (pts[i].x - pts[i - 1].x) * t, pts[i - 1].y + (pts[i].y - pts[i - 1].y) * t);
  }

  function labelMarker(latlng, name, angle, font) {
    var span = core.el("span", "cg-road-name", name);  // text only: a road name never becomes HTML
    span.style.fontSize = font + "px";
    span.style.transform = "translate(-50%, -50%) rotate(" + (angle * 180 / Math.PI).toFixed(1) + "deg)";
    return L.marker(latlng, {
      icon: L.divIcon({ className: "cg-road-label", html: span, iconSize: [0, 0] }),
      pane: "cgRoadLabels", interactive: false, keyboard: false
    });
  }
})();
