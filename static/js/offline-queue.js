/* citygrid offline report queue: reports made without a connection wait in IndexedDB.
 *
 * Each item keeps the report's JSON text, its photos as Blobs and the Idempotency-Key made
 * when the report was started. Sending reuses that key, so the server answers a repeat with
 * the first answer and a report is never recorded twice, even if a send succeeded but the
 * page closed before the item was removed. An item leaves the queue only after a 2xx, or a
 * 4xx the server will never accept (then it is kept as "refused" for the inspector to read);
 * 5xx, 401, CSRF and network failures keep it for the next try.
 *
 * window.CitygridQueue = { send, classify, Queue }.
 */
(function () {
  "use strict";

  var DB_NAME = "citygrid-offline";
  var DB_VERSION = 1;
  var STORE = "reports";
  var LOCK = "citygrid-report-queue";

  /* What a send's outcome means for the item: "ok", "refused" (drop: never accepted),
   * "retry" (keep: the server or the session may recover) or "network" (keep). */
  function classify(status, body) {
    if (status >= 200 && status < 300) return "ok";
    if (status === 401 || status === 408 || status === 425 || status === 429) return "retry";
    // A missing or stale CSRF token is fixed by reloading the page, not by changing the report.
    if (status === 400 && body && /csrf/i.test(String(body.detail || ""))) return "retry";
    if (status >= 400 && status < 500) return "refused";
    return "retry";
  }

  /* POST one report as multipart (field "data" = JSON text, files "photos").
   * item: {key, data (JSON text), photos: [{blob, name}]}. Resolves to
   * {outcome, status, body, replayed}; never rejects. */
  async function send(url, item) {
    var form = new FormData();
    form.append("data", item.data);
    (item.photos || []).forEach(function (p) { form.append("photos", p.blob, p.name || "photo.jpg"); });
    var resp;
    try {
      // citygrid.api adds the session cookie and the CSRF header.
      resp = await window.citygrid.api.call(url, {
        method: "POST", body: form, headers: { "Idempotency-Key": item.key },
      });
    } catch (err) {
      return { outcome: "network", status: 0, body: { detail: String(err) } };
    }
    var body = resp.body || {};
    return {
      outcome: classify(resp.status, body),
      status: resp.status,
      body: body,
      replayed: resp.headers.get("Idempotent-Replayed") === "true",
    };
  }

  function promisify(request) {
    return new Promise(function (resolve, reject) {
      request.onsuccess = function () { resolve(request.result); };
      request.onerror = function () { reject(request.error); };
    });
  }

  /* The queue of one user's reports on this device. */
  function Queue(options) {
    this.url = options.url;
    this.user = options.user;
    this.onChange = options.onChange || function () {};
    this.onResult = options.onResult || function () {};
    this.flushing = null;
    this.dbPromise = null;
  }

  Queue.prototype.db = function () {
    if (!this.dbPromise) {
      this.dbPromise = new Promise(function (resolve, reject) {
        var req = indexedDB.open(DB_NAME, DB_VERSION);
        req.onupgradeneeded = function () {
          var store = req.result.createObjectStore(STORE, { keyPath: "key" });
          store.createIndex("user", "user");
        };
        req.onsuccess = function () { resolve(req.result); };
        req.onerror = function () { reject(req.error); };
      });
    }
    return this.dbPromise;
  };

  Queue.prototype.tx = async function (mode, fn) {
    var db = await this.db();
    return new Promise(function (resolve, reject) {
      var t = db.transaction(STORE, mode);
      var result;
      Promise.resolve(fn(t.objectStore(STORE))).then(function (r) { result = r; }, reject);
      t.oncomplete = function () { resolve(result); };
      t.onerror = function () { reject(t.error); };
      t.onabort = function () { reject(t.error || new Error("IndexedDB transaction aborted")); };
    });
  };

  /* Every item of this user, oldest first. */
  Queue.prototype.items = async function () {
    var user = this.user;
    var all = await this.tx("readonly", function (store) {
      return promisify(store.index("user").getAll(user));
    });
    return all.sort(function (a, b) { return a.created - b.created; });
  };

  Queue.prototype.counts = async function () {
    var items = await this.items();
    return {
      pending: items.filter(function (i) { return i.status === "pending"; }).length,
      refused: items.filter(function (i) { return i.status === "refused"; }).length,
    };
  };

  Queue.prototype.changed = async function () {
    try { this.onChange(await this.counts()); } catch (e) { /* a closed tab */ }
  };

  /* Keep a report for later. item: {key, data, photos, summary}. */
  Queue.prototype.add = async function (item) {
    var record = {
      key: item.key,
      user: this.user,
      data: item.data,
      photos: item.photos || [],
      summary: item.summary || "",
      created: Date.now(),
      attempts: 0,
      status: "pending",
      lastError: null,
    };
    await this.tx("readwrite", function (store) { return promisify(store.put(record)); });
    await this.changed();
    return record;
  };

  Queue.prototype.remove = async function (key) {
    await this.tx("readwrite", function (store) { return promisify(store.delete(key)); });
    await this.changed();
  };

  Queue.prototype.put = function (record) {
    return this.tx("readwrite", function (store) { return promisify(store.put(record)); });
  };

  /* Send every pending item once, in order; one flush at a time per device (Web Locks across
   * tabs, a promise within the page). Resolves to the number sent. */
  Queue.prototype.flush = function () {
    var self = this;
    if (self.flushing) return self.flushing;
    var run = function () { return self._flush(); };
    var job = (navigator.locks && navigator.locks.request)
      ? navigator.locks.request(LOCK, { ifAvailable: true }, function (lock) { return lock ? run() : 0; })
      : run();
    self.flushing = Promise.resolve(job).finally(function () { self.flushing = null; });
    return self.flushing;
  };

  Queue.prototype._flush = async function () {
    var sent = 0;
    if (navigator.onLine === false) return sent;
    var items = (await this.items()).filter(function (i) { return i.status === "pending"; });
    for (var idx = 0; idx < items.length; idx += 1) {
      var item = items[idx];
      var result = await send(this.url, item);
      if (result.outcome === "ok") {
        // Removed only now: if the page dies before this line, the resend is answered as a replay.
        await this.remove(item.key);
        sent += 1;
      } else if (result.outcome === "refused") {
        item.status = "refused";
        item.lastStatus = result.status;
        item.lastError = result.body;
        await this.put(item);
        await this.changed();
      } else {
        item.attempts += 1;
        item.lastStatus = result.status;
        item.lastError = result.body;
        await this.put(item);
        await this.changed();
      }
      this.onResult(item, result);
      // A connection that is gone stays gone for the rest of this round.
      if (result.outcome === "network" || result.status === 401) break;
    }
    return sent;
  };

  window.CitygridQueue = { send: send, classify: classify, Queue: Queue };
})();
