/* citygrid phone page (/map for an inspector), shared parts: the page's config and state, toasts,
 * server refusals (problem+json) shown by the field they name, the sheet (bottom on a phone, side
 * panel on a desk) and photo pickers.
 *
 * The phone page is plain scripts loaded in order after map.js (window.citygridMap) and
 * offline-queue.js (window.CitygridQueue): phone/base.js, duty.js (GPS and duty), report.js
 * (reporting a case), queue.js (the offline queue), tasks.js (my verify / check tasks) and
 * start.js. They share window.citygridPhone; a module calls another's functions through it at
 * call time, so the order matters only for what runs at load. Texts, URLs and limits come from
 * the "inspector" block of #cg-map-config.
 */
(function () {
  "use strict";

  var C = window.citygrid;
  var el = C.el;
  var fmt = C.fmt;
  var cfg = JSON.parse(document.getElementById("cg-map-config").textContent);
  var IC = cfg.inspector;
  var T = IC.text;
  var CM = window.citygridMap;
  var map = CM.map;
  var $ = function (id) { return document.getElementById(id); };

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

  // Case times in China time, whatever the phone's own time zone is (as on the other pages).
  var when = C.time.short;

  var toastTimer = null;
  function toast(text, isError) {
    var box = $("cg-toast");
    box.textContent = text;
    box.classList.toggle("cg-toast-error", !!isError);
    box.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () { box.hidden = true; }, isError ? 8000 : 5000);
  }

  /* citygrid.api.call → {ok, status, body}; a network failure gives status 0. */
  function call(url, options) {
    return C.api.call(url, options).catch(function () {
      return { ok: false, status: 0, body: { detail: T.networkError } };
    });
  }

  /* A refusal explained for the inspector (the server's detail, or what to do about it). */
  function refusalText(status, body) {
    if (status === 0) return T.networkError;
    if (status === 401) return T.signedOut;
    if (status === 400 && /csrf/i.test(String((body && body.detail) || ""))) return T.csrf;
    if (status >= 500) return T.serverError;
    return C.api.problemText(status, body);
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

  $("cg-sheet-close").addEventListener("click", function () { P.cancelReport(); closeSheet(); });
  $("cg-sheet-back").addEventListener("click", function () { if (backTo) backTo(); });
  document.addEventListener("keydown", function (e) {
    if (e.key !== "Escape") return;
    if (state.placing) { P.cancelReport(); return; }
    if (!sheet.hidden) { P.cancelReport(); closeSheet(); }
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
  function errSlot(field) {
    var p = el("p", "cg-err");
    p.dataset.for = field;
    p.hidden = true;
    p.setAttribute("role", "alert");
    return p;
  }

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

  var P = window.citygridPhone = {
    cfg: cfg, IC: IC, T: T, CM: CM, map: map, $: $, state: state, sheet: sheet,
    TASK_REFRESH_MS: TASK_REFRESH_MS, QUEUE_RETRY_MS: QUEUE_RETRY_MS, GPS_FRESH_MS: GPS_FRESH_MS,
    when: when, toast: toast, call: call, refusalText: refusalText,
    slotFor: slotFor, clearErrors: clearErrors, showError: showError, showProblem: showProblem, errSlot: errSlot,
    openSheet: openSheet, closeSheet: closeSheet, reveal: reveal, dl: dl, PhotoPicker: PhotoPicker,
  };
})();
