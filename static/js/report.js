/* citygrid inspector tools on /map: duty and GPS position, reporting a case (with the offline
 * queue), and the verify / check tasks assigned to me.
 *
 * Built on map.js (window.citygridMap) and offline-queue.js (window.CitygridQueue). Texts,
 * URLs and limits come from the "inspector" block of #cg-map-config. Every POST carries the
 * page's CSRF token; server refusals (problem+json) are shown next to the field they name.
 */
(function () {
  "use strict";

  var cfg = JSON.parse(document.getElementById("cg-map-config").textContent);
  var IC = cfg.inspector;
  var T = IC.text;
  var CM = window.citygridMap;
  var map = CM.map;
  var $ = function (id) { return document.getElementById(id); };
  var esc = window.citygridHtml.escape;  // divIcon html is HTML: texts go through it

  var RECENT_MAX = 6;
  var RECENT_KEY = "cg-recent-categories:" + IC.username;
  var CATEGORY_KEY = "cg-categories:" + IC.standard + (IC.english ? ":en" : "");  // names follow the language
  var TASK_REFRESH_MS = 120000;
  var QUEUE_RETRY_MS = 20000;
  var GPS_FRESH_MS = 60000;

  // Read by the browser tests and handy in the console.
  var state = {
    position: null, positionsSent: 0, onDuty: IC.onDuty,
    placing: false, draft: null, lastResult: null,
    tasks: [], tasksLoaded: false, queue: { pending: 0, refused: 0 },
    categoriesLoaded: false,
  };
  window.citygridInspector = { state: state };

  // ---- small helpers --------------------------------------------------------------------------
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function fmt(template, values) {
    return template.replace(/\{(\w+)\}/g, function (m, k) { return k in values ? values[k] : m; });
  }

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    // randomUUID needs a secure context; getRandomValues does not (plain http on a LAN).
    var b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  // Case times in China time, whatever the phone's own time zone is (as on the other pages).
  var CN_TIME = new Intl.DateTimeFormat("en-CA", {
    timeZone: "Asia/Shanghai", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false,
  });

  function when(iso) {
    if (!iso) return "";
    var p = {};
    CN_TIME.formatToParts(new Date(iso)).forEach(function (part) { p[part.type] = part.value; });
    return Number(p.month) + "-" + p.day + " " + (p.hour === "24" ? "00" : p.hour) + ":" + p.minute;
  }

  var toastTimer = null;
  function toast(text, isError) {
    var box = $("cg-toast");
    box.textContent = text;
    box.classList.toggle("cg-toast-error", !!isError);
    box.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () { box.hidden = true; }, isError ? 8000 : 5000);
  }

  function csrfHeaders(extra) {
    var h = { Accept: "application/json", "X-CSRFToken": window.CitygridQueue.csrfToken() };
    Object.keys(extra || {}).forEach(function (k) { h[k] = extra[k]; });
    return h;
  }

  /* fetch → {ok, status, body}; a network failure gives status 0. */
  async function call(url, options) {
    var resp;
    try {
      resp = await fetch(url, Object.assign({ credentials: "same-origin" }, options || {}));
    } catch (err) {
      return { ok: false, status: 0, body: { detail: T.networkError } };
    }
    var body = {};
    try { body = await resp.json(); } catch (e) { body = { detail: resp.statusText || "HTTP " + resp.status }; }
    return { ok: resp.ok, status: resp.status, body: body };
  }

  function getJSON(url) {
    return call(url, { headers: { Accept: "application/json" } });
  }

  /* A refusal explained for the inspector (the server's detail, or what to do about it). */
  function refusalText(status, body) {
    if (status === 0) return T.networkError;
    if (status === 401) return T.signedOut;
    if (status === 400 && /csrf/i.test(String((body && body.detail) || ""))) return T.csrf;
    if (status >= 500) return T.serverError;
    return (body && (body.detail || body.title)) || "HTTP " + status;
  }

  // ---- field errors ---------------------------------------------------------------------------
  function slotFor(root, field) {
    var name = String(field || "").replace(/\[\d+\]$/, "").replace(/\..*$/, "");
    if (name === "lat") name = "lon";
    return root.querySelector('.cg-err[data-for="' + name + '"]') || root.querySelector('.cg-err[data-for=""]');
  }

  function clearErrors(root) {
    root.querySelectorAll(".cg-err").forEach(function (p) { p.hidden = true; p.textContent = ""; });
    root.querySelectorAll("[aria-invalid]").forEach(function (n) { n.removeAttribute("aria-invalid"); });
  }

  function showError(root, field, text) {
    var slot = slotFor(root, field);
    if (!slot.hidden && slot.textContent.indexOf(text) >= 0) return slot;
    slot.textContent = slot.hidden ? text : slot.textContent + " " + text;
    slot.hidden = false;
    var input = slot.parentNode.querySelector("input:not([type=file]), textarea");
    if (input) input.setAttribute("aria-invalid", "true");
    return slot;
  }

  /* Show a problem+json document by its field(s); returns the first slot used. */
  function showProblem(root, status, body) {
    var text = refusalText(status, body);
    var first = null;
    var errors = (body && body.errors) || [];
    if (errors.length && status < 500) {
      // The detail (the fullest explanation) goes by the first field; other fields get their message.
      errors.forEach(function (e) {
        var slot = slotFor(root, e.field);
        if (first === slot) return;
        var s = showError(root, e.field, first ? e.message || text : body.detail || e.message || text);
        first = first || s;
      });
    } else {
      first = showError(root, status < 500 && status !== 401 ? body && body.field : "", text);
    }
    if (status === 401) {
      var link = el("a", null, " " + T.signIn);
      link.href = cfg.loginUrl;
      first.appendChild(link);
    }
    first.scrollIntoView({ block: "nearest" });
    return first;
  }

  // ---- the sheet (bottom on a phone, side panel on a desk) ------------------------------------
  var sheet = $("cg-sheet");
  var views = ["cg-report-form", "cg-report-result", "cg-tasks", "cg-case", "cg-queue"];
  var backTo = null;

  function openSheet(view, title, back) {
    views.forEach(function (id) { $(id).hidden = id !== view; });
    $("cg-sheet-title").textContent = title;
    backTo = back || null;
    $("cg-sheet-back").hidden = !backTo;
    sheet.hidden = false;
    sheet.dataset.view = view;
    document.body.classList.add("cg-sheet-open");
    $("cg-sheet-body").scrollTop = 0;
    map.invalidateSize();
    $("cg-sheet-title").focus({ preventScroll: true });
  }

  function closeSheet() {
    sheet.hidden = true;
    sheet.dataset.view = "";
    document.body.classList.remove("cg-sheet-open");
    map.invalidateSize();
    if (sheetClosed) sheetClosed();
    if (location.hash.indexOf("#case-") === 0) history.replaceState(null, "", location.pathname + location.search);
  }
  var sheetClosed = null;

  $("cg-sheet-close").addEventListener("click", function () { cancelReport(); closeSheet(); });
  $("cg-sheet-back").addEventListener("click", function () { if (backTo) backTo(); });
  document.addEventListener("keydown", function (e) {
    if (e.key !== "Escape") return;
    if (state.placing) { cancelReport(); return; }
    if (!sheet.hidden) { cancelReport(); closeSheet(); }
  });

  /* Keep a point visible above the sheet (phone) or beside it (desk). */
  function reveal(latlng) {
    var size = map.getSize();
    var rect = sheet.hidden ? null : sheet.getBoundingClientRect();
    var mapRect = map.getContainer().getBoundingClientRect();
    var target = L.point(size.x / 2, size.y / 2);
    if (rect && rect.top > mapRect.top + 40 && rect.width >= mapRect.width - 1) {
      target = L.point(size.x / 2, Math.max(40, (rect.top - mapRect.top) / 2));
    } else if (rect && rect.left > mapRect.left) {
      target = L.point(Math.max(40, (rect.left - mapRect.left) / 2), size.y / 2);
    }
    var now = map.latLngToContainerPoint(latlng);
    map.panBy(now.subtract(target), { animate: false });
  }

  // ---- my position and duty -------------------------------------------------------------------
  var watchId = null;
  var lastSent = null;   // {latlng, at}
  var sendingPosition = false;

  function startWatch() {
    if (watchId !== null || !navigator.geolocation) return;
    watchId = navigator.geolocation.watchPosition(onPosition, function (err) {
      state.gpsError = err.code;
      if (err.code === err.PERMISSION_DENIED) {
        navigator.geolocation.clearWatch(watchId);
        watchId = null;
      }
    }, { enableHighAccuracy: true, maximumAge: 10000, timeout: 30000 });
  }

  function onPosition(p) {
    var latlng = L.latLng(p.coords.latitude, p.coords.longitude);
    state.position = { lat: latlng.lat, lon: latlng.lng, accuracy: p.coords.accuracy, at: Date.now() };
    CM.setMyPosition(latlng, p.coords.accuracy,
      T.myPosition + " · " + fmt(T.accuracy, { m: Math.round(p.coords.accuracy) }));
    maybeSendPosition();
  }

  /* On duty, the position goes to the server every ~30 s when it moved more than ~20 m. */
  function maybeSendPosition() {
    if (!state.onDuty || !state.position || sendingPosition || navigator.onLine === false) return;
    var here = L.latLng(state.position.lat, state.position.lon);
    if (lastSent) {
      if (Date.now() - lastSent.at < IC.positionIntervalS * 1000) return;
      if (here.distanceTo(lastSent.latlng) <= IC.positionMinMoveM) return;
    }
    postPosition(here, undefined);
  }

  async function postPosition(latlng, onDuty) {
    sendingPosition = true;
    var body = { lon: +latlng.lng.toFixed(7), lat: +latlng.lat.toFixed(7) };
    if (onDuty !== undefined) body.on_duty = onDuty;
    try {
      var r = await call(IC.positionUrl, {
        method: "POST", headers: csrfHeaders({ "Content-Type": "application/json" }), body: JSON.stringify(body),
      });
      if (r.ok) {
        lastSent = { latlng: latlng, at: Date.now() };
        state.positionsSent += 1;
      }
      return r;
    } finally {
      sendingPosition = false;
    }
  }
  setInterval(maybeSendPosition, 10000);

  /* A fresh fix: the watched one if recent, else one asked for now. */
  function currentPosition() {
    if (state.position && Date.now() - state.position.at < GPS_FRESH_MS) {
      return Promise.resolve(L.latLng(state.position.lat, state.position.lon));
    }
    return new Promise(function (resolve, reject) {
      if (!navigator.geolocation) { reject({ code: 2 }); return; }
      navigator.geolocation.getCurrentPosition(function (p) {
        onPosition(p);
        startWatch();
        resolve(L.latLng(p.coords.latitude, p.coords.longitude));
      }, reject, { enableHighAccuracy: true, maximumAge: 10000, timeout: 15000 });
    });
  }

  function showDuty() {
    var btn = $("cg-duty");
    btn.setAttribute("aria-pressed", state.onDuty ? "true" : "false");
    $("cg-duty-label").textContent = state.onDuty ? T.onDuty : T.offDuty;
    btn.title = state.onDuty ? T.dutyOn : T.dutyOff;
  }

  $("cg-duty").addEventListener("click", async function () {
    var btn = this;
    var want = !state.onDuty;
    btn.disabled = true;
    try {
      var here;
      try {
        here = await currentPosition();
      } catch (err) {
        toast(T.dutyNeedsGps, true);
        return;
      }
      var r = await postPosition(here, want);
      if (!r.ok) { toast(T.dutyFailed + " " + refusalText(r.status, r.body), true); return; }
      state.onDuty = !!r.body.on_duty;
      showDuty();
      toast(state.onDuty ? T.dutyOn : T.dutyOff);
    } finally {
      btn.disabled = false;
    }
  });
  showDuty();

  // Watch the position right away when allowed (or when on duty, which needs it).
  if (navigator.permissions && navigator.permissions.query) {
    navigator.permissions.query({ name: "geolocation" }).then(function (p) {
      if (p.state === "granted" || (p.state === "prompt" && state.onDuty)) startWatch();
    }, function () { if (state.onDuty) startWatch(); });
  } else if (state.onDuty) {
    startWatch();
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
      var r = await getJSON(IC.categoriesUrl);
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

  // ---- photo pickers --------------------------------------------------------------------------
  var ACCEPTED = ["image/jpeg", "image/png"];
  var MAX_EDGE = 2560;

  /* The server takes JPEG and PNG up to maxPhotoBytes: anything else the browser can decode
   * (WebP, a huge JPEG) is redrawn as a JPEG; what it cannot decode is refused here. */
  async function acceptable(file) {
    if (ACCEPTED.indexOf(file.type) >= 0 && file.size <= IC.maxPhotoBytes) return file;
    var bitmap = await createImageBitmap(file);
    var scale = Math.min(1, MAX_EDGE / Math.max(bitmap.width, bitmap.height));
    var canvas = document.createElement("canvas");
    canvas.width = Math.round(bitmap.width * scale);
    canvas.height = Math.round(bitmap.height * scale);
    canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    var blob = await new Promise(function (r) { canvas.toBlob(r, "image/jpeg", 0.85); });
    if (!blob || blob.size > IC.maxPhotoBytes) throw new Error("too large");
    return new File([blob], (file.name || "photo").replace(/\.[^.]*$/, "") + ".jpg", { type: "image/jpeg" });
  }

  function PhotoPicker(root) {
    this.root = root;
    this.files = [];
    this.input = root.querySelector(".cg-photo-input");
    this.thumbs = root.querySelector(".cg-thumbs");
    this.count = root.querySelector(".cg-photo-count");
    var self = this;
    this.input.addEventListener("change", function () { self.add(Array.prototype.slice.call(self.input.files)); });
    this.render();
  }

  PhotoPicker.prototype.add = async function (picked) {
    var form = this.root.closest("form");
    var slot = slotFor(form, "photos");
    slot.hidden = true;
    slot.textContent = "";
    var problems = [];
    for (var i = 0; i < picked.length; i += 1) {
      if (this.files.length >= IC.maxPhotos) { problems.push(fmt(T.tooManyPhotos, { n: IC.maxPhotos })); break; }
      try {
        this.files.push(await acceptable(picked[i]));
      } catch (err) {
        problems.push(fmt(T.badPhoto, { name: picked[i].name }));
      }
    }
    this.input.value = "";
    this.render();
    problems.forEach(function (p) { showError(form, "photos", p); });
  };

  PhotoPicker.prototype.render = function () {
    var self = this;
    this.thumbs.querySelectorAll("img").forEach(function (img) { URL.revokeObjectURL(img.src); });
    this.thumbs.textContent = "";
    this.files.forEach(function (file, idx) {
      var fig = el("figure", "cg-thumb");
      var img = el("img");
      img.src = URL.createObjectURL(file);
      img.alt = file.name;
      fig.appendChild(img);
      var rm = el("button", "cg-thumb-rm", "×");
      rm.type = "button";
      rm.setAttribute("aria-label", T.removePhoto + " " + (idx + 1));
      rm.addEventListener("click", function () {
        self.files.splice(idx, 1);
        self.render();
        self.input.focus();
      });
      fig.appendChild(rm);
      self.thumbs.appendChild(fig);
    });
    this.count.textContent = fmt(T.photoCount, { n: this.files.length, max: IC.maxPhotos });
    this.root.dataset.count = String(this.files.length);
    this.input.disabled = this.files.length >= IC.maxPhotos;
  };

  PhotoPicker.prototype.clear = function () {
    this.files = [];
    this.render();
  };

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
    var r = await getJSON(cfg.locateUrl + "?" + new URLSearchParams({
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
      var here = await currentPosition();
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
        await queue.add(item);
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
    await queue.add(item);
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
    a.addEventListener("click", function (e) { e.preventDefault(); openCase(id, null); });
    return a;
  }

  function dl(rows) {
    var list = el("dl", "cg-dl");
    rows.forEach(function (r) {
      if (r[1] === null || r[1] === undefined || r[1] === "") return;
      list.appendChild(el("dt", null, r[0]));
      var dd = el("dd");
      if (r[1] instanceof Node) dd.appendChild(r[1]); else dd.textContent = r[1];
      if (r[2]) dd.className = r[2];
      list.appendChild(dd);
    });
    return list;
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

  // ---- the offline queue ----------------------------------------------------------------------
  var queue = new window.CitygridQueue.Queue({
    url: IC.casesUrl,
    user: IC.username,
    onChange: function (counts) {
      state.queue = counts;
      var btn = $("cg-queue-btn");
      var n = counts.pending + counts.refused;
      btn.hidden = n === 0;
      btn.dataset.count = String(counts.pending);
      btn.classList.toggle("cg-queue-refused", counts.refused > 0);
      $("cg-queue-count").textContent = String(counts.pending) + (counts.refused ? " · !" + counts.refused : "");
      if (sheet.dataset.view === "cg-queue") renderQueue();
    },
    onResult: function (item, result) {
      if (result.outcome === "ok") {
        toast(fmt(T.queueSent, { number: result.body.case.number }));
      } else if (result.outcome === "refused") {
        toast(fmt(T.queueRejected, { detail: refusalText(result.status, result.body) }), true);
      }
    },
  });

  async function renderQueue() {
    var box = $("cg-queue");
    box.textContent = "";
    var items = await queue.items();
    if (!items.length) { box.appendChild(el("p", "cg-empty", T.queueEmpty)); return; }
    var ul = el("ul", "cg-list");
    items.forEach(function (item) {
      var li = el("li", "cg-queue-item cg-queue-" + item.status);
      li.appendChild(el("p", "cg-queue-summary", item.summary));
      var meta = when(new Date(item.created).toISOString()) + " · ";
      if (item.status === "refused") {
        meta += T.queueRefused + ": " + refusalText(item.lastStatus || 400, item.lastError);
      } else if (item.attempts) {
        meta += T.queueRetry + " (" + refusalText(item.lastStatus || 0, item.lastError) + ")";
      } else {
        meta += T.queueWaiting;
      }
      li.appendChild(el("p", "cg-muted", meta));
      if (item.status === "refused") {
        var drop = el("button", "cg-btn cg-btn-quiet", T.queueDiscard);
        drop.type = "button";
        drop.addEventListener("click", function () { queue.remove(item.key); });
        li.appendChild(drop);
      }
      ul.appendChild(li);
    });
    box.appendChild(ul);
    if (items.some(function (i) { return i.status === "pending"; })) {
      var now = el("button", "cg-btn cg-btn-primary", T.queueSendNow);
      now.type = "button";
      now.addEventListener("click", function () { flushQueue(); });
      box.appendChild(now);
    }
  }

  $("cg-queue-btn").addEventListener("click", function () {
    openSheet("cg-queue", T.queueTitle);
    renderQueue();
  });

  function flushQueue() {
    return queue.flush().then(function (sent) {
      if (sent) loadTasks();
      return sent;
    }, function (err) { state.queueError = String(err); });
  }

  window.addEventListener("online", function () { flushQueue(); loadTasks(); });
  setInterval(function () { if (state.queue.pending) flushQueue(); }, QUEUE_RETRY_MS);
  queue.changed().then(flushQueue);

  // ---- my tasks -------------------------------------------------------------------------------
  var taskLayer = L.layerGroup().addTo(map);
  var detailCache = {};  // id -> case detail (refreshed when the version moves)

  function taskKind(c) {
    return c.state === "verifying" ? "verify" : "check";
  }

  function taskIcon(c) {
    var kind = taskKind(c);
    return L.divIcon({
      className: "cg-task-pin cg-task-" + kind + " cg-light-" + (c.light || "green"),
      html: "<span>" + esc(kind === "verify" ? T.verifyShort : T.checkShort) + "</span>",
      iconSize: [30, 30], iconAnchor: [15, 15],
    });
  }

  async function detail(id, version) {
    var hit = detailCache[id];
    if (hit && hit.version === version) return hit;
    var r = await getJSON(IC.caseUrl + id);
    if (!r.ok) throw r;
    detailCache[id] = r.body;
    return r.body;
  }

  async function loadTasks() {
    var r = await getJSON(IC.casesUrl + "?" + new URLSearchParams({ mine: "1", page_size: "100" }).toString());
    if (!r.ok) {
      state.tasksError = refusalText(r.status, r.body);
      if (sheet.dataset.view === "cg-tasks") renderTasks();
      return;
    }
    state.tasksError = null;
    var items = r.body.items;
    // The list carries no location; the details do (a few tasks per inspector, four at a time).
    var queueIds = items.slice();
    var workers = [0, 1, 2, 3].map(async function () {
      while (queueIds.length) {
        var c = queueIds.shift();
        try { c.detail = await detail(c.id, c.version); } catch (e) { c.detail = null; }
      }
    });
    await Promise.all(workers);
    state.tasks = items;
    state.tasksLoaded = true;
    var count = $("cg-tasks-count");
    count.textContent = String(items.length);
    count.dataset.count = String(items.length);
    taskLayer.clearLayers();
    items.forEach(function (c) {
      if (!c.detail || !c.detail.location) return;
      var m = L.marker([c.detail.location.lat, c.detail.location.lon], {
        icon: taskIcon(c), keyboard: true, title: c.number + " · " + c.category.name, riseOnHover: true,
      });
      m.on("click", function () { openCase(c.id, showTasks); });
      m.addTo(taskLayer);
      c.marker = m;
    });
    if (sheet.dataset.view === "cg-tasks") renderTasks();
  }

  function renderTasks() {
    var box = $("cg-tasks");
    box.textContent = "";
    if (state.tasksError) box.appendChild(el("p", "cg-err", state.tasksError));
    if (!state.tasksLoaded) { box.appendChild(el("p", "cg-empty", T.loading)); return; }
    if (!state.tasks.length) { box.appendChild(el("p", "cg-empty", T.noTasks)); return; }
    var ul = el("ul", "cg-list");
    state.tasks.forEach(function (c) {
      var li = el("li");
      var b = el("button", "cg-task");
      b.type = "button";
      b.dataset.caseId = String(c.id);
      b.dataset.number = c.number;
      var kind = taskKind(c);
      var top = el("span", "cg-task-top");
      top.appendChild(el("span", "cg-badge cg-badge-" + kind, kind === "verify" ? T.verifyTask : T.checkTask));
      top.appendChild(el("span", "mono", c.number));
      top.appendChild(el("span", "cg-light cg-light-" + (c.light || "green"), T.lights[c.light] || ""));
      b.appendChild(top);
      b.appendChild(el("span", "cg-task-cat", c.category.name));
      b.appendChild(el("span", "cg-task-desc", c.address || c.description));
      b.appendChild(el("span", "cg-muted", T.deadline + " " + when(c.stage_deadline)));
      b.addEventListener("click", function () { openCase(c.id, showTasks); });
      li.appendChild(b);
      ul.appendChild(li);
    });
    box.appendChild(ul);
  }

  function showTasks() {
    cancelReport();
    openSheet("cg-tasks", T.tasksTitle);
    renderTasks();
    var pins = state.tasks.filter(function (c) { return c.marker; }).map(function (c) { return c.marker.getLatLng(); });
    if (pins.length && !map.getBounds().contains(L.latLngBounds(pins))) {
      map.fitBounds(L.latLngBounds(pins), { padding: [40, 40], maxZoom: 17 });
    }
  }

  $("cg-tasks-btn").addEventListener("click", showTasks);

  // ---- one case: details and the verify / check form ------------------------------------------
  var taskPhotos = null;

  async function openCase(id, back, notice) {
    cancelReport();
    openSheet("cg-case", T.caseTitle, back);
    var box = $("cg-case");
    box.textContent = "";
    box.dataset.caseId = String(id);
    box.appendChild(el("p", "cg-empty", T.loading));
    history.replaceState(null, "", "#case-" + id);
    var r = await getJSON(IC.caseUrl + id);
    if (box.dataset.caseId !== String(id)) return;
    box.textContent = "";
    if (!r.ok) { box.appendChild(el("p", "cg-err", refusalText(r.status, r.body))); return; }
    detailCache[id] = r.body;
    renderCase(box, r.body, back, notice);
  }

  function renderCase(box, c, back, notice) {
    $("cg-sheet-title").textContent = c.number;
    box.dataset.state = c.state;
    box.dataset.version = String(c.version);
    if (notice) box.appendChild(el("p", "cg-err cg-notice", notice));
    var head = el("p", "cg-case-head");
    head.appendChild(el("span", "cg-badge", T.states[c.state] || c.state));
    head.appendChild(el("span", "cg-light cg-light-" + (c.light || "green"), T.lights[c.light] || ""));
    if (c.urgency === "urgent") head.appendChild(el("span", "cg-badge cg-badge-urgent", T.urgent));
    box.appendChild(head);
    box.appendChild(dl([
      [T.category, c.category.name + " (" + (c.kind === "component" ? "C" : "E") + c.category.code + ")"],
      [T.address, c.address],
      [T.cellAt, c.cell_code, "mono"],
      [T.reportedAt, when(c.reported_at)],
      [T.deadline, when(c.stage_deadline)],
    ]));
    box.appendChild(el("h3", null, T.description));
    box.appendChild(el("p", "cg-case-desc", c.description));

    box.appendChild(el("h3", null, T.photos));
    if (c.photos.length) {
      var strip = el("div", "cg-thumbs cg-thumbs-view");
      c.photos.forEach(function (p, i) {
        var a = el("a", "cg-thumb");
        a.href = p.url;
        a.target = "_blank";
        a.rel = "noopener";
        var img = el("img");
        img.src = p.url;
        img.loading = "lazy";
        img.alt = T.photos + " " + (i + 1) + " (" + (T.actions[p.stage] || p.stage) + ")";
        a.appendChild(img);
        strip.appendChild(a);
      });
      box.appendChild(strip);
    } else {
      box.appendChild(el("p", "cg-muted", T.noPhotos));
    }

    box.appendChild(el("h3", null, T.timeline));
    var ol = el("ol", "cg-timeline");
    var events = c.timeline.slice(-6);
    events.forEach(function (ev) {
      var li = el("li");
      li.appendChild(el("span", "cg-muted", when(ev.at) + " "));
      var what = T.actions[ev.action] || ev.action;
      if (ev.data && ev.data.outcome) what += " · " + (T.outcomes[ev.data.outcome] || ev.data.outcome);
      li.appendChild(el("strong", null, what));
      li.appendChild(el("span", "cg-muted", " · " + ev.actor));
      if (ev.note) li.appendChild(el("span", "cg-tl-note", ev.note));
      ol.appendChild(li);
    });
    box.appendChild(ol);

    if (c.location) {
      var show = el("button", "cg-link", T.showOnMap);
      show.type = "button";
      show.addEventListener("click", function () { reveal(L.latLng(c.location.lat, c.location.lon)); });
      box.appendChild(show);
      var at = L.latLng(c.location.lat, c.location.lon);
      // Close enough to see the cell and its surroundings, then clear of the sheet.
      if (map.getZoom() < 16) map.setView(at, 16, { animate: false });
      reveal(at);
    }

    var action = ["verify", "check"].filter(function (a) { return c.allowed_actions.indexOf(a) >= 0; })[0];
    if (action && (!c.assignee || c.assignee === IC.username)) {
      box.appendChild(actionForm(c, action, back));
    } else if (back) {
      box.appendChild(el("p", "cg-muted", T.noActions));
    }
  }

  function actionForm(c, action, back) {
    var outcomes = action === "verify" ? ["confirmed", "not_found"] : ["passed", "failed"];
    var form = el("form", "cg-form cg-action-form");
    form.noValidate = true;
    form.dataset.action = action;
    form.appendChild(el("h3", null, action === "verify" ? T.taskVerify : T.taskCheck));
    var set = el("fieldset", "cg-field cg-outcomes");
    set.appendChild(el("legend", "cg-label", T.outcome));
    outcomes.forEach(function (o) {
      var lab = el("label", "cg-radio cg-outcome-" + o);
      var input = el("input");
      input.type = "radio";
      input.name = "outcome";
      input.value = o;
      lab.appendChild(input);
      lab.appendChild(el("span", null, T.outcomes[o]));
      set.appendChild(lab);
    });
    set.addEventListener("change", function () { outcomeErr.hidden = true; });
    var outcomeErr = el("p", "cg-err");
    outcomeErr.dataset.for = "outcome";
    outcomeErr.hidden = true;
    outcomeErr.setAttribute("role", "alert");
    set.appendChild(outcomeErr);
    form.appendChild(set);

    var noteField = el("div", "cg-field");
    var noteLabel = el("label", "cg-label", T.note);
    noteLabel.htmlFor = "cg-action-note";
    var note = el("textarea");
    note.id = "cg-action-note";
    note.rows = 2;
    note.maxLength = IC.maxDescription;
    noteField.appendChild(noteLabel);
    noteField.appendChild(note);
    noteField.appendChild(errSlot("note"));
    form.appendChild(noteField);

    var photoField = el("div", "cg-field cg-photos");
    photoField.appendChild(el("span", "cg-label", T.photos));
    photoField.appendChild(el("div", "cg-thumbs"));
    var add = el("label", "cg-btn cg-photo-add");
    add.appendChild(el("span", "cg-cam"));
    add.appendChild(document.createTextNode(" " + T.addPhotos));
    var file = el("input", "cg-photo-input");
    file.type = "file";
    file.accept = "image/*";
    file.setAttribute("capture", "environment");
    file.multiple = true;
    add.appendChild(file);
    photoField.appendChild(add);
    photoField.appendChild(el("p", "cg-help cg-photo-count"));
    photoField.appendChild(errSlot("photos"));
    form.appendChild(photoField);
    form.appendChild(errSlot(""));
    taskPhotos = new PhotoPicker(photoField);

    var actions = el("div", "cg-form-actions");
    var submit = el("button", "cg-btn cg-btn-primary", T.submitAction);
    submit.type = "submit";
    actions.appendChild(submit);
    form.appendChild(actions);

    form.addEventListener("submit", async function (e) {
      e.preventDefault();
      clearErrors(form);
      var chosen = form.querySelector("input[name=outcome]:checked");
      if (!chosen) { showError(form, "outcome", T.chooseOutcome); set.querySelector("input").focus(); return; }
      if (navigator.onLine === false) { showError(form, "", T.offlineAction); return; }
      var data = { action: action, version: c.version, outcome: chosen.value };
      if (note.value.trim()) data.note = note.value.trim();
      var body = new FormData();
      body.append("data", JSON.stringify(data));
      taskPhotos.files.forEach(function (f) { body.append("photos", f, f.name); });
      submit.disabled = true;
      submit.textContent = T.sending;
      var r = await call(IC.caseUrl + c.id + "/actions", { method: "POST", headers: csrfHeaders(), body: body });
      submit.disabled = false;
      submit.textContent = T.submitAction;
      if (r.ok) {
        var after = r.body.case;
        toast(fmt(T.actionDone, { number: after.number, state: T.states[after.state] || after.state }));
        delete detailCache[c.id];
        await loadTasks();
        if (back) back(); else openCase(c.id, null);
        return;
      }
      if (r.status === 409 && r.body && r.body.current_version !== undefined) {
        openCase(c.id, back, T.stale);
        return;
      }
      showProblem(form, r.status, r.body);
    });
    return form;
  }

  function errSlot(field) {
    var p = el("p", "cg-err");
    p.dataset.for = field;
    p.hidden = true;
    p.setAttribute("role", "alert");
    return p;
  }

  // ---- start ----------------------------------------------------------------------------------
  function fromHash() {
    var m = /^#case-(\d+)$/.exec(location.hash);
    if (m) openCase(+m[1], null);
  }
  window.addEventListener("hashchange", fromHash);
  fromHash();
  loadTasks();
  setInterval(function () { if (navigator.onLine !== false && document.visibilityState === "visible") loadTasks(); },
    TASK_REFRESH_MS);
  // Fetched early so that a report made offline later still has its categories.
  loadCategories().catch(function () { /* shown when the form opens */ });

  window.citygridInspector = {
    state: state, queue: queue, flush: flushQueue, loadTasks: loadTasks, openCase: openCase,
    startReport: startReport,
  };
})();
