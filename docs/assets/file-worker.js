/* A Web Worker for pages opened from disk (file://), where browsers refuse `new Worker(url)`:
   the worker's script runs in a hidden same-origin iframe instead, and messages pass through
   events. This is what lets the docs' search (mkdocs-material's, with its `offline` plugin) work
   from site/index.html without a server; it stands in for the `iframe-worker` shim the plugin
   would otherwise fetch from unpkg.com (the site fetches nothing). Served pages keep real Workers. */
(function () {
  "use strict";
  if (location.protocol !== "file:") return;

  class FileWorker extends EventTarget {
    constructor(url) {
      super();
      this.onmessage = null;
      this.onerror = null;
      this._pending = [];
      this._ready = false;
      const frame = document.createElement("iframe");
      frame.hidden = true;
      frame.setAttribute("aria-hidden", "true");
      (document.body || document.documentElement).appendChild(frame);
      const inner = frame.contentWindow;
      // What the worker script sees as its global scope: postMessage goes back to this page.
      inner.postMessage = (data) => setTimeout(() => this._emit("message", data), 0);
      inner.importScripts = (...urls) => Promise.all(urls.map((src) => load(inner.document, src)));
      this._inner = inner;
      load(inner.document, new URL(url, location.href).href).then(
        () => {
          this._ready = true;
          this._pending.splice(0).forEach((data) => this._send(data));
        },
        () => this._emit("error", `cannot load the worker script ${url}`)
      );
    }

    postMessage(data) {
      if (this._ready) this._send(data);
      else this._pending.push(data);
    }

    terminate() {
      const frame = this._inner && this._inner.frameElement;
      if (frame) frame.remove();
    }

    _send(data) {
      const inner = this._inner;
      setTimeout(() => inner.dispatchEvent(new inner.MessageEvent("message", { data: data })), 0);
    }

    _emit(type, data) {
      const event = type === "message" ? new MessageEvent("message", { data: data }) : new ErrorEvent("error", { message: data });
      this.dispatchEvent(event);
      const handler = type === "message" ? this.onmessage : this.onerror;
      if (handler) handler.call(this, event);
    }
  }

  function load(doc, src) {
    return new Promise((resolve, reject) => {
      const script = doc.createElement("script");
      script.src = src;
      script.onload = resolve;
      script.onerror = reject;
      (doc.head || doc.documentElement).appendChild(script);
    });
  }

  window.Worker = FileWorker;
})();
