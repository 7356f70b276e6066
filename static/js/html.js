/* citygrid's one HTML-escaping helper, loaded by base.html before every page's scripts.
 *
 * Leaflet inserts string tooltip, popup and divIcon contents as HTML (innerHTML), so every text
 * that reaches bindTooltip / bindPopup / setContent / a divIcon's html / innerHTML passes through
 * citygridHtml.escape first. Where no HTML is wanted, build the DOM with textContent instead.
 */
(function () {
  "use strict";

  var ENTITIES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

  /** ``value`` as text safe inside HTML content and quoted attributes (null and undefined → ""). */
  function escape(value) {
    if (value === null || value === undefined) return "";
    return String(value).replace(/[&<>"']/g, function (ch) { return ENTITIES[ch]; });
  }

  window.citygridHtml = { escape: escape };
})();
