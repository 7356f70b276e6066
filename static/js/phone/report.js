/* citygrid phone page: reporting a case - placing it (tap, map centre or GPS), the category
 * picker, photos, sending (or keeping it in the offline queue) and the result. */
(function () {
  "use strict";

  var P = window.citygridPhone;  // the phone page's shared parts (phone/base.js)
  var C = window.citygrid;
  var el = C.el;
  var fmt = C.fmt;
  var cfg = P.cfg, IC = P.IC, T = P.T, map = P.map, $ = P.$, state = P.state;
  var CM = P.CM, sheet = P.sheet, toast = P.toast, refusalText = P.refusalText, call = P.call;
  var slotFor = P.slotFor, clearErrors = P.clearErrors, showError = P.showError, showProblem = P.showProblem;
  var openSheet = P.openSheet, closeSheet = P.closeSheet, reveal = P.reveal, dl = P.dl, PhotoPicker = P.PhotoPicker;

  var RECENT_MAX = 6;
  var RECENT_KEY = "cg-recent-categories:" + IC.username;
  var CATEGORY_KEY = "cg-categories:" + IC.standard + (IC.english ? ":en" : "");  // names follow the language

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    // randomUUID needs a secure context; getRandomValues does not (plain http on a LAN).
    var b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }


  // ---- categories -----------------------------------------------------------------------------
  var categories = [];   // flat: {id, code, qcode, name, name_en, kind, kindName, major, majorName, hay}
  var kinds = [];        // [{kind, name}]
  var catPromise = null;
  var chosenKind = "";

  function flatten(tree) {
    var out = [];
    kinds = [];
    tree.forEach(function (k) {
      kinds.push({ kind: k.kind, name: k.name });
      k.majors.forEach(function (m) {
        var majorName = IC.english && m.name_en ? m.name_en : m.name;
        m.categories.forEach(function (c) {
          var qcode = (k.kind === "component" ? "C" : "E") + c.code;
          out.push({
            id: c.id, code: c.code, qcode: qcode, name: c.name, name_en: c.name_en || "",
            kind: k.kind, kindName: k.name, major: m.code, majorName: majorName,
            hay: [c.name, c.name_zh || "", c.name_en || "", c.code, qcode, m.name, m.name_zh || "", m.name_en || ""]
              .join(" ").toLowerCase(),
          });
        });
      });
    });
    return out;
  }

  /* The category tree: from the server, or (offline) the copy kept from the last visit. */
  function loadCategories() {
    if (catPromise) return catPromise;
    catPromise = (async function () {
      var r = await call(IC.categoriesUrl);
      var tree = null;
      if (r.ok) {
        tree = r.body.tree;
        try { localStorage.setItem(CATEGORY_KEY, JSON.stringify(tree)); } catch (e) { /* quota */ }
      } else {
        try { tree = JSON.parse(localStorage.getItem(CATEGORY_KEY) || "null"); } catch (e) { tree = null; }
      }
      if (!tree) { catPromise = null; throw new Error(refusalText(r.status, r.body)); }
      categories = flatten(tree);
      state.categoriesLoaded = true;
      return categories;
    })();
    return catPromise;
  }

  function recentIds() {
    try { return JSON.parse(localStorage.getItem(RECENT_KEY) || "[]"); } catch (e) { return []; }
  }

  function remember(id) {
    var ids = [id].concat(recentIds().filter(function (x) { return x !== id; })).slice(0, RECENT_MAX);
    try { localStorage.setItem(RECENT_KEY, JSON.stringify(ids)); } catch (e) { /* quota */ }
  }

  function label(c) {
    return IC.english && c.name_en ? c.name_en : c.name;
  }

  function catButton(c, withPath) {
    var b = el("button", "cg-cat-item");
    b.type = "button";
    b.dataset.id = String(c.id);
    b.dataset.code = c.qcode;
    b.appendChild(el("span", "cg-cat-name", label(c)));
    b.appendChild(el("span", "cg-cat-code", c.qcode));
    if (withPath) b.appendChild(el("span", "cg-cat-path", c.kindName + " › " + c.majorName));
    b.addEventListener("click", function () { chooseCategory(c); });
    return b;
  }

  function renderKinds() {
    var box = $("cg-kinds");
    box.textContent = "";
    [{ kind: "", name: T.allKinds }].concat(kinds).forEach(function (k) {
      var b = el("button", "cg-chip", k.name);
      b.type = "button";
      b.setAttribute("aria-pressed", chosenKind === k.kind ? "true" : "false");
      b.addEventListener("click", function () { chosenKind = k.kind; renderKinds(); renderCategories(); });
      box.appendChild(b);
    });
  }

  function renderCategories() {
    var list = $("cg-cat-list");
    list.textContent = "";
    var q = $("cg-cat-q").value.trim().toLowerCase();
    var pool = categories.filter(function (c) { return !chosenKind || c.kind === chosenKind; });
    if (q) {
      var hits = pool.filter(function (c) { return c.hay.indexOf(q) >= 0; });
      // Code-prefix and name-prefix matches first: they are what a typist means.
      hits.sort(function (a, b) {
        var ra = (a.qcode.toLowerCase().indexOf(q) === 0 || a.code.indexOf(q) === 0 || a.name.indexOf(q) === 0) ? 0 : 1;
        var rb = (b.qcode.toLowerCase().indexOf(q) === 0 || b.code.indexOf(q) === 0 || b.name.indexOf(q) === 0) ? 0 : 1;
        return ra - rb;
      });
      if (!hits.length) { list.appendChild(el("p", "cg-empty", T.noMatch)); return; }
      hits.slice(0, 60).forEach(function (c) { list.appendChild(catButton(c, true)); });
      return;
    }
    var byId = {};
    categories.forEach(function (c) { byId[c.id] = c; });
    var recent = recentIds().map(function (id) { return byId[id]; }).filter(function (c) {
      return c && (!chosenKind || c.kind === chosenKind);
    });
    if (recent.length) {
      var sec = el("div", "cg-cat-recent");
      sec.appendChild(el("h3", null, T.recent));
      recent.forEach(function (c) { sec.appendChild(catButton(c, true)); });
      list.appendChild(sec);
    }
    var lastKind = null;
    var groups = {};
    pool.forEach(function (c) {
      if (c.kind !== lastKind && !chosenKind) {
        list.appendChild(el("h3", "cg-cat-kind", c.kindName));
        lastKind = c.kind;
      }
      var key = c.kind + c.major;
      if (!groups[key]) {
        var det = el("details", "cg-cat-major");
        var sum = el("summary", null, c.majorName);
        det.appendChild(sum);
        groups[key] = { det: det, sum: sum, n: 0 };
        list.appendChild(det);
      }
      groups[key].det.appendChild(catButton(c, false));
      groups[key].n += 1;
    });
    Object.keys(groups).forEach(function (k) {
      groups[k].sum.appendChild(el("span", "cg-cat-n", String(groups[k].n)));
    });
  }

  function chooseCategory(c) {
    state.draft.category = c;
    $("cg-cat-chosen-text").textContent = "";
    $("cg-cat-chosen-text").appendChild(el("strong", null, label(c)));
    $("cg-cat-chosen-text").appendChild(el("span", "cg-cat-code", " " + c.qcode));
    $("cg-cat-chosen-text").appendChild(el("span", "cg-cat-path", c.kindName + " › " + c.majorName));
    $("cg-cat-chosen").hidden = false;
    $("cg-cat-pick").hidden = true;
    var slot = slotFor($("cg-report-form"), "category");
    slot.hidden = true;
    $("cg-desc").focus();
  }

  function resetCategoryPicker() {
    $("cg-cat-q").value = "";
    $("cg-cat-chosen").hidden = true;
    $("cg-cat-pick").hidden = false;
    chosenKind = "";
    var list = $("cg-cat-list");
    list.textContent = "";
    list.appendChild(el("p", "cg-empty", T.loadingCategories));
    loadCategories().then(function () { renderKinds(); renderCategories(); }, function () {
      list.textContent = "";
      showError($("cg-report-form"), "category", T.categoriesFailed);
    });
  }

  $("cg-cat-q").addEventListener("input", renderCategories);
  $("cg-cat-q").addEventListener("keydown", function (e) {
    if (e.key === "Enter") {
      e.preventDefault();
      var first = $("cg-cat-list").querySelector(".cg-cat-item");
      if (first) first.click();
    } else if (e.key === "ArrowDown") {
      var item = $("cg-cat-list").querySelector(".cg-cat-item, summary");
      if (item) { e.preventDefault(); item.focus(); }
    }
  });
  $("cg-cat-change").addEventListener("click", function () {
    $("cg-cat-chosen").hidden = true;
    $("cg-cat-pick").hidden = false;
    renderKinds();
    renderCategories();
    $("cg-cat-q").focus();
  });

  var reportPhotos = new PhotoPicker($("cg-report-photos"));

  // ---- placing a case -------------------------------------------------------------------------
  var pinIcon = L.divIcon({ className: "cg-pin", html: "<span></span>", iconSize: [34, 46], iconAnchor: [17, 44] });
  var marker = null;
  var locateSeq = 0;

  function startReport() {
    closeSheet();
    if (!state.draft) state.draft = { key: uuid(), latlng: null, category: null, cell: null };
    state.placing = true;
    document.body.classList.add("cg-placing");
    $("cg-place").hidden = false;
    $("cg-crosshair").hidden = false;
    $("cg-place-text").textContent = T.placeHint;
    $("cg-report-btn").setAttribute("aria-pressed", "true");
    map.getContainer().dataset.placing = "1";
    CM.setClickInterceptor(function (latlng) { place(latlng); return true; });
    $("cg-use-gps").focus();
  }

  function stopPlacing() {
    state.placing = false;
    document.body.classList.remove("cg-placing");
    $("cg-place").hidden = true;
    $("cg-crosshair").hidden = true;
    $("cg-report-btn").removeAttribute("aria-pressed");
    map.getContainer().dataset.placing = "0";
    CM.setClickInterceptor(null);
  }

  function cancelReport() {
    if (!state.draft && !state.placing) return;
    stopPlacing();
    if (marker) { map.removeLayer(marker); marker = null; }
    state.draft = null;
    reportPhotos.clear();
    $("cg-report-form").reset();
    clearErrors($("cg-report-form"));
  }

  function place(latlng) {
    stopPlacing();
    state.draft.latlng = latlng;
    if (!marker) {
      marker = L.marker(latlng, {
        draggable: true, icon: pinIcon, keyboard: true, title: T.dragHint, zIndexOffset: 1000,
      });
      marker.on("dragend", function () { setLocation(marker.getLatLng()); });
      marker.addTo(map);
    } else {
      marker.setLatLng(latlng);
    }
    var firstTime = $("cg-report-form").hidden || sheet.hidden;
    if (firstTime) {
      openSheet("cg-report-form", T.reportTitle);
      if (!state.draft.category) resetCategoryPicker();
    }
    setLocation(latlng);
    reveal(latlng);
    if (firstTime && !state.draft.category) $("cg-cat-q").focus({ preventScroll: true });
  }

  /* Show the point and the cell it falls in (or that it is outside the district). */
  async function setLocation(latlng) {
    var draft = state.draft;
    draft.latlng = latlng;
    draft.cell = null;
    var form = $("cg-report-form");
    slotFor(form, "lon").hidden = true;
    var loc = $("cg-loc");
    loc.textContent = latlng.lng.toFixed(6) + ", " + latlng.lat.toFixed(6);
    loc.dataset.lon = latlng.lng.toFixed(7);
    loc.dataset.lat = latlng.lat.toFixed(7);
    if (navigator.onLine === false) return;
    var seq = ++locateSeq;
    var cellLine = el("span", "cg-loc-cell", " · " + T.locating);
    loc.appendChild(cellLine);
    var r = await call(cfg.locateUrl + "?" + new URLSearchParams({
      lon: latlng.lng.toFixed(7), lat: latlng.lat.toFixed(7),
    }).toString());
    // The report may have been cancelled or sent while the cell was being looked up.
    if (seq !== locateSeq || state.draft !== draft) return;
    if (r.ok) {
      draft.cell = r.body.cell.code;
      cellLine.textContent = " · " + T.cellAt + " " + r.body.cell.code + " · " + r.body.community.name;
      loc.dataset.cell = r.body.cell.code;
    } else if (r.status === 404) {
      cellLine.remove();
      showError(form, "lon", T.outside);
    } else {
      cellLine.remove();
    }
  }

  $("cg-report-btn").addEventListener("click", function () {
    if (state.placing) { cancelReport(); return; }
    startReport();
  });
  $("cg-place-cancel").addEventListener("click", cancelReport);
  $("cg-use-centre").addEventListener("click", function () { place(map.getCenter()); });
  $("cg-use-gps").addEventListener("click", async function () {
    $("cg-place-text").textContent = T.gpsWaiting;
    try {
      var here = await P.currentPosition();
      place(here);
    } catch (err) {
      $("cg-place-text").textContent = err && err.code === 1 ? T.gpsDenied : T.gpsFailed;
    }
  });
  $("cg-replace").addEventListener("click", function () {
    stopPlacing();
    state.placing = true;
    document.body.classList.add("cg-placing");
    $("cg-place").hidden = false;
    $("cg-crosshair").hidden = false;
    map.getContainer().dataset.placing = "1";
    $("cg-place-text").textContent = T.placeHint;
    CM.setClickInterceptor(function (latlng) { place(latlng); return true; });
    $("cg-use-gps").focus();
  });
  $("cg-report-cancel").addEventListener("click", function () { cancelReport(); closeSheet(); });

  var desc = $("cg-desc");
  desc.addEventListener("input", function () {
    $("cg-desc-count").textContent = desc.value.length + " / " + IC.maxDescription;
  });

  // ---- submitting -----------------------------------------------------------------------------
  function reportData() {
    var d = state.draft;
    var body = {
      lon: +d.latlng.lng.toFixed(7),
      lat: +d.latlng.lat.toFixed(7),
      category: d.category.id,
      description: desc.value.trim(),
      urgency: $("cg-urgent").checked ? "urgent" : "normal",
      self_handled: $("cg-self").checked,
    };
    var address = $("cg-addr").value.trim();
    if (address) body.address = address;
    return body;
  }

  function validate(form) {
    var d = state.draft;
    var first = null;
    if (!d || !d.latlng) first = first || showError(form, "lon", T.noLocation);
    if (!d || !d.category) first = first || showError(form, "category", T.pickCategory);
    var text = desc.value.trim();
    if (!text) first = first || showError(form, "description", T.needDescription);
    if (text.length > IC.maxDescription) {
      first = first || showError(form, "description", fmt(T.tooLong, { n: IC.maxDescription }));
    }
    if (reportPhotos.files.length > IC.maxPhotos) {
      first = first || showError(form, "photos", fmt(T.tooManyPhotos, { n: IC.maxPhotos }));
    }
    if (first) {
      var focusable = first.parentNode.querySelector("input:not([type=file]):not([hidden]), textarea");
      if (focusable && focusable.offsetParent) focusable.focus(); else first.scrollIntoView({ block: "nearest" });
    }
    return !first;
  }

  $("cg-report-form").addEventListener("submit", async function (e) {
    e.preventDefault();
    var form = this;
    clearErrors(form);
    if (!validate(form)) return;
    var data = reportData();
    var item = {
      key: state.draft.key,  // made once per report; a retry sends the same key
      data: JSON.stringify(data),
      photos: reportPhotos.files.map(function (f) { return { blob: f, name: f.name }; }),
      summary: state.draft.category.qcode + " " + label(state.draft.category) + " · " + data.description.slice(0, 60),
    };
    remember(state.draft.category.id);
    var button = $("cg-report-submit");
    button.disabled = true;
    var before = button.textContent;
    button.textContent = T.sending;
    try {
      if (navigator.onLine === false) { await enqueue(item); return; }
      var result = await window.CitygridQueue.send(IC.casesUrl, item);
      if (result.outcome === "network") { await enqueue(item); return; }
      if (result.outcome === "ok") { showResult(result.body, result.replayed); return; }
      if (result.outcome === "retry" && result.status < 500) {
        // Session ended or page stale: keep the report; it goes out after signing in / reloading.
        await P.queue.add(item);
        finishDraft();
        closeSheet();
        toast(refusalText(result.status, result.body) + " " + T.keptForLater, true);
        return;
      }
      showProblem(form, result.status, result.body);
    } finally {
      button.disabled = false;
      button.textContent = before;
    }
  });

  async function enqueue(item) {
    await P.queue.add(item);
    finishDraft();
    closeSheet();
    toast(T.queued);
  }

  function finishDraft() {
    if (marker) { map.removeLayer(marker); marker = null; }
    state.draft = null;
    reportPhotos.clear();
    $("cg-report-form").reset();
    $("cg-desc-count").textContent = "0 / " + IC.maxDescription;
  }

  function caseLink(id, text) {
    var a = el("a", "cg-case-link", text);
    a.href = "#case-" + id;
    a.addEventListener("click", function (e) { e.preventDefault(); P.openCase(id, null); });
    return a;
  }

  function showResult(body, replayed) {
    var c = body.case;
    state.lastResult = body;
    finishDraft();
    var box = $("cg-report-result");
    box.textContent = "";
    box.dataset.number = c.number;
    box.dataset.caseId = String(c.id);
    box.appendChild(el("p", "cg-ok", replayed ? T.replayed : T.submitted));
    box.appendChild(dl([
      [T.caseNumber, c.number, "mono cg-result-number"],
      [T.cellAt, c.cell_code, "mono cg-result-cell"],
      [T.state, T.states[c.state] || c.state],
      [T.category, c.category.name],
    ]));
    var dups = body.possible_duplicates || [];
    if (dups.length) {
      var sec = el("section", "cg-dups");
      sec.appendChild(el("h3", null, T.duplicates));
      var ul = el("ul");
      dups.forEach(function (d) {
        var li = el("li");
        li.appendChild(caseLink(d.id, d.number));
        li.appendChild(el("span", "cg-muted",
          " · " + (T.states[d.state] || d.state) + " · " + fmt(T.distance, { m: Math.round(d.distance_m) })));
        ul.appendChild(li);
      });
      sec.appendChild(ul);
      box.appendChild(sec);
    }
    var again = el("button", "cg-btn cg-btn-primary", T.reportAnother);
    again.type = "button";
    again.addEventListener("click", startReport);
    var actions = el("div", "cg-form-actions");
    actions.appendChild(again);
    box.appendChild(actions);
    openSheet("cg-report-result", T.reportTitle);
  }

  P.startReport = startReport;
  P.cancelReport = cancelReport;
  P.loadCategories = loadCategories;
})();
