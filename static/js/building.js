/* The building page: its footprint on a Leaflet map, with the cameras that see it and its
   components as markers. Plain JS, no build step; the page works without it (map aside). */
(function () {
  "use strict";

  var cfg = JSON.parse(document.getElementById("cg-building-config").textContent);
  var esc = window.citygrid.esc;  // Leaflet tooltips take HTML: names are text
  var state = { ready: false, markers: 0 };
  window.citygridBuilding = { state: state, config: cfg };
  if (!window.L || !cfg.footprint) return;

  var map = L.map("building-map", { zoomControl: true, attributionControl: Boolean(cfg.tileUrl) });
  state.map = map;
  if (cfg.tileUrl) {
    L.tileLayer(cfg.tileUrl, { attribution: cfg.tileAttribution, maxZoom: 20 }).addTo(map);
  }
  // The view first (vector layers need one), fitted to the footprint and the cameras seeing it.
  var shape = L.geoJSON(cfg.footprint);
  var bounds = shape.getBounds();
  cfg.cameras.forEach(function (c) {
    if (c.lon != null && c.lat != null) bounds.extend([c.lat, c.lon]);
  });
  map.fitBounds(bounds, { padding: [24, 24], maxZoom: 19 });

  var footprint = L.geoJSON(cfg.footprint, {
    style: { color: "#0b57a4", weight: 2, fillColor: "#90caf9", fillOpacity: 0.45, className: "cg-footprint" },
  }).addTo(map);
  footprint.bindTooltip(esc(cfg.building.name));
  state.footprint = footprint;

  function marker(item, style, label) {
    if (item.lon == null || item.lat == null) return;
    L.circleMarker([item.lat, item.lon], style).addTo(map).bindTooltip(esc(label + " · " + item.name));
    state.markers += 1;
  }
  cfg.cameras.forEach(function (c) {
    marker(c, { radius: 6, color: "#fff", weight: 2, fillColor: "#6a1b9a", fillOpacity: 1 }, cfg.text.camera);
  });
  cfg.components.forEach(function (k) {
    marker(k, { radius: 4, color: "#fff", weight: 1, fillColor: "#ef6c00", fillOpacity: 1 }, cfg.text.component);
  });
  state.ready = true;
})();
