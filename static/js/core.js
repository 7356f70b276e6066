/* citygrid's shared page core, loaded by base.html before every page's own scripts.
 *
 * window.citygrid = { esc, fmt, el, csrf, api, time }: the one home of escaping, message
 * formatting, element building, fetch with problem+json (RFC 9457) and CSRF, and China time.
 * Page scripts use these and keep no copies of their own.
 *
 * Escaping: Leaflet inserts string tooltip, popup and divIcon contents as HTML (innerHTML), so
 * every text that reaches bindTooltip / bindPopup / setContent / a divIcon's html / innerHTML
 * passes through citygrid.esc first. Where no HTML is wanted, build the DOM with el() (text only).
 */
(function () {
  "use strict";

  var ENTITIES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

  /** ``value`` as text safe inside HTML content and quoted attributes (null and undefined → ""). */
  function esc(value) {
    if (value === null || value === undefined) return "";
    return String(value).replace(/[&<>"']/g, function (ch) { return ENTITIES[ch]; });
  }

  /**
   * Fill "%(name)s" placeholders, the gettext style of the server's catalogs (the one style used
   * by every translated string a page receives). A missing or null value gives "".
   */
  function fmt(template, values) {
    return String(template).replace(/%\((\w+)\)s/g, function (_m, key) {
      return values && values[key] != null ? String(values[key]) : "";
    });
  }

  /**
   * A DOM element; strings become text, never HTML.
   *
   * attrs: an object of attributes ("text" sets the text, "class"/"className" the class, a
   * function under "on<event>" becomes a listener, null/false are left out, true is an empty
   * attribute), or a string taken as the class name. children: an array of nodes and strings
   * (null skipped), or a single string or number taken as the text.
   */
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (typeof attrs === "string") {
      node.className = attrs;
    } else if (attrs) {
      Object.keys(attrs).forEach(function (key) {
        var value = attrs[key];
        if (value == null || value === false) return;
        if (key === "text") node.textContent = value;
        else if (key === "class" || key === "className") node.className = value;
        else if (key.slice(0, 2) === "on" && typeof value === "function") node.addEventListener(key.slice(2), value);
        else node.setAttribute(key, value === true ? "" : value);
      });
    }
    if (children == null) return node;
    if (!Array.isArray(children)) {
      node.textContent = String(children);
      return node;
    }
    children.forEach(function (child) {
      if (child == null) return;
      node.appendChild(typeof child === "string" || typeof child === "number"
        ? document.createTextNode(String(child)) : child);
    });
    return node;
  }

  /** The page's CSRF token (the <meta name="csrf-token"> base.html writes), or "". */
  function csrf() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") || "" : "";
  }

  // ---- fetch with problem+json ----------------------------------------------------------------
  var SAFE = { GET: true, HEAD: true, OPTIONS: true };

  /** The words a problem (RFC 9457) or a bare failure gives a person: detail, else title, else the status. */
  function problemText(status, body) {
    return (body && (body.detail || body.title)) || ("HTTP " + status);
  }

  /** The field a problem names (its first error's when it lists several), without a "[i]" index. */
  function problemField(body) {
    if (!body) return null;
    var field = body.field || (body.errors && body.errors[0] && body.errors[0].field) || null;
    return field ? String(field).replace(/\[\d+\]$/, "") : null;
  }

  /**
   * fetch(url) with the session cookie, Accept JSON and (for unsafe methods) the CSRF header.
   *
   * options: fetch's, plus ``json`` (a value sent as the JSON body). Resolves to
   * {ok, status, body, headers} for any HTTP answer: body is the parsed JSON, null when an
   * answer has none, and for a failure without JSON {status, detail: the status text}. Rejects
   * only when no answer came (network failure, abort), with fetch's own error.
   */
  function call(url, options) {
    options = Object.assign({}, options || {});
    var method = String(options.method || "GET").toUpperCase();
    var headers = Object.assign({ Accept: "application/json" }, options.headers || {});
    if (!SAFE[method] && !headers["X-CSRFToken"]) headers["X-CSRFToken"] = csrf();
    if (options.json !== undefined) {
      headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(options.json);
      delete options.json;
    }
    options.method = method;
    options.headers = headers;
    options.credentials = "same-origin";
    return fetch(url, options).then(function (resp) {
      return resp.text().then(function (text) {
        var body = null;
        try { body = text ? JSON.parse(text) : null; } catch (e) { body = null; }
        if (!resp.ok && (body === null || typeof body !== "object")) {
          body = { status: resp.status, detail: resp.statusText || ("HTTP " + resp.status) };
        }
        return { ok: resp.ok, status: resp.status, body: body, headers: resp.headers };
      });
    });
  }

  /** An Error for a refused request: message = the problem's detail (or title), with status, body and field. */
  function ApiError(result) {
    var err = new Error(problemText(result.status, result.body));
    err.name = "ApiError";
    err.status = result.status;
    err.body = result.body;
    err.field = problemField(result.body);
    return err;
  }

  /** Like call(), but resolves to the body of a 2xx answer and rejects with an ApiError otherwise. */
  function send(url, options) {
    return call(url, options).then(function (result) {
      if (!result.ok) throw ApiError(result);
      return result.body;
    });
  }

  var api = {
    call: call,
    send: send,
    get: function (url, options) { return send(url, Object.assign({}, options, { method: "GET" })); },
    post: function (url, payload, options) {
      return send(url, Object.assign({}, options, { method: "POST", json: payload }));
    },
    problemText: problemText,
    problemField: problemField,
  };

  // ---- China time -----------------------------------------------------------------------------
  // Case times are China time (UTC+8) whatever the screen's own time zone is, as the server renders them.
  var CHINA = new Intl.DateTimeFormat("en-CA", {
    timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", hourCycle: "h23",
  });

  /** {year, month, day, hour, minute} (zero-padded strings) of an ISO time in China time. */
  function parts(iso) {
    var p = {};
    CHINA.formatToParts(new Date(iso)).forEach(function (part) { p[part.type] = part.value; });
    if (p.hour === "24") p.hour = "00";
    return p;
  }

  var time = {
    zone: "Asia/Shanghai",
    parts: parts,
    /** "YYYY-MM-DD HH:MM" in China time ("" for none). */
    dateTime: function (iso) {
      if (!iso) return "";
      var p = parts(iso);
      return p.year + "-" + p.month + "-" + p.day + " " + p.hour + ":" + p.minute;
    },
    /** "MM-DD HH:MM" in China time ("" for none), for lists and timelines. */
    short: function (iso) {
      if (!iso) return "";
      var p = parts(iso);
      return p.month + "-" + p.day + " " + p.hour + ":" + p.minute;
    },
  };

  window.citygrid = { esc: esc, fmt: fmt, el: el, csrf: csrf, api: api, time: time };
})();
