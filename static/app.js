// Gatehouse Security tab: the little JavaScript it needs. Everything works
// without it (plain links and form posts); with it, htmx makes navigation
// smoother and an embedded tab talks to its host page.
//
// Events for the host page
// ------------------------
// An embedded tab (one opened from an embed token) posts these messages to
// window.parent, with the origin the embed token was minted for as the
// target origin, so the browser delivers them to that origin only. A page
// without a parent origin (a setup link, a popup, an unknown or missing
// origin) posts nothing. Every message is a plain object with a `type`:
//
//   {type: "gatehouse:height", height: <number>}
//       The tab's content height in CSS pixels, on load and whenever it
//       changes; size the iframe to it.
//   {type: "gatehouse:step", step: "overview" | "domains" | "connection" |
//                                  "test" | "activate"}
//       The step now shown, on load and after each navigation.
//   {type: "gatehouse:connection-tested", outcome?: "passed" | "failed"}
//       A test sign-in finished (`outcome` when the popup reported it).
//   {type: "gatehouse:connection-activated", connection_id: "conn_…",
//    provider: "<provider>"}
//       Single sign-on was switched on in the Activate step (also when new
//       settings were released on an active connection).
//   {type: "gatehouse:connection-deactivated", connection_id: "conn_…",
//    provider: "<provider>"}
//       Single sign-on was switched off in the Activate step.
//   {type: "gatehouse:session-expired"}
//       The admin's session has ended; the tab shows a page saying so.
//       Mint a new embed token and reload the iframe. Posted once.
//
// The server marks what to post in the page: an element with
// data-gatehouse-event="<type>" (its data-connection-id and data-provider
// become connection_id and provider), or <meta name="gatehouse-event">.
(function () {
  "use strict";

  function meta(name) {
    var el = document.querySelector('meta[name="' + name + '"]');
    return el ? el.content : null;
  }

  var csrf = meta("gatehouse-csrf");
  var session = meta("gatehouse-session");
  var parentOrigin = meta("gatehouse-parent-origin");
  var embedded = parentOrigin && window.parent !== window;

  // Every htmx request carries the CSRF token, and in an embed the session
  // itself (browsers that block third-party cookies drop the cookie).
  document.addEventListener("htmx:configRequest", function (event) {
    if (csrf) event.detail.headers["X-CSRF-Token"] = csrf;
    if (session) event.detail.headers["X-Gatehouse-Session"] = session;
  });

  // Plain form posts carry the session as a field, for the same reason.
  function addSessionFields(root) {
    if (!session) return;
    (root || document).querySelectorAll("form[method=post], form[method=POST]").forEach(function (form) {
      if (form.querySelector('input[name="gatehouse_session"]')) return;
      var input = document.createElement("input");
      input.type = "hidden";
      input.name = "gatehouse_session";
      input.value = session;
      form.appendChild(input);
    });
  }

  // Messages to the host page go to the origin the embed was minted for, and
  // nowhere else.
  var expiredPosted = false;
  function post(type, data) {
    if (!embedded) return;
    if (type === "gatehouse:session-expired") {
      if (expiredPosted) return;
      expiredPosted = true;
    }
    var message = { type: type };
    for (var key in data || {}) message[key] = data[key];
    window.parent.postMessage(message, parentOrigin);
  }

  // Elements marked with data-gatehouse-event in `root` (itself included):
  // each is posted once.
  function postMarkedEvents(root) {
    if (!root || !root.querySelectorAll) return;
    var marked = Array.prototype.slice.call(root.querySelectorAll("[data-gatehouse-event]"));
    if (root.matches && root.matches("[data-gatehouse-event]")) marked.unshift(root);
    marked.forEach(function (el) {
      if (el.hasAttribute("data-gatehouse-posted")) return;
      el.setAttribute("data-gatehouse-posted", "");
      var data = {};
      var id = el.getAttribute("data-connection-id");
      var provider = el.getAttribute("data-provider");
      if (id) data.connection_id = id;
      if (provider) data.provider = provider;
      post(el.getAttribute("data-gatehouse-event"), data);
    });
  }

  var lastHeight = 0;
  function reportHeight() {
    var height = Math.ceil(document.documentElement.getBoundingClientRect().height);
    if (height !== lastHeight) {
      lastHeight = height;
      post("gatehouse:height", { height: height });
    }
  }

  function reportStep() {
    var main = document.querySelector("[data-step]");
    if (main) post("gatehouse:step", { step: main.getAttribute("data-step") });
  }

  // Copy buttons: <button data-copy="#element-id">.
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-copy]");
    if (!button || !navigator.clipboard) return;
    var source = document.querySelector(button.getAttribute("data-copy"));
    if (!source) return;
    var text = source.value !== undefined ? source.value : source.textContent;
    navigator.clipboard.writeText(text.trim()).then(function () {
      var label = button.textContent;
      button.textContent = "Copied";
      button.setAttribute("data-copied", "true");
      setTimeout(function () {
        button.textContent = label;
        button.removeAttribute("data-copied");
      }, 1500);
    });
  });

  // <input type=file data-fill="#textarea">: put the chosen file's text in
  // the textarea (without JavaScript, pasting works the same).
  document.addEventListener("change", function (event) {
    var input = event.target;
    if (!input.matches || !input.matches("input[type=file][data-fill]") || !input.files[0]) return;
    var target = document.querySelector(input.getAttribute("data-fill"));
    if (!target) return;
    input.files[0].text().then(function (text) { target.value = text; });
  });

  // Test sign-in: <a data-popup> opens the identity provider in a popup, top
  // level (identity providers refuse to be framed). Without JavaScript the
  // link opens a new tab.
  var watching = null;
  function refreshTest() {
    if (window.htmx && document.getElementById("main")) {
      window.htmx.ajax("GET", "/security/test", { target: "#main" });
    } else {
      window.location.reload();
    }
  }
  function latestShown() {
    var el = document.querySelector("[data-latest-test]");
    return el ? el.getAttribute("data-latest-test") : null;
  }
  // Some identity providers cut a popup's link to the page that opened it,
  // so the tab also asks now and then whether a new result arrived.
  function watchForResult() {
    if (watching) clearInterval(watching);
    var shown = latestShown();
    var deadline = Date.now() + 15 * 60 * 1000;
    watching = setInterval(function () {
      if (Date.now() > deadline) { clearInterval(watching); watching = null; return; }
      var headers = {};
      if (session) headers["X-Gatehouse-Session"] = session;
      fetch("/security/test/latest", { headers: headers, credentials: "same-origin" })
        .then(function (r) {
          if (r.headers.get("Gatehouse-Error-Code") === "session_expired") {
            // Show the session-ended page (which tells the host page).
            clearInterval(watching);
            watching = null;
            refreshTest();
            return null;
          }
          return r.ok ? r.json() : null;
        })
        .then(function (body) {
          if (body && body.id && body.id !== shown) {
            clearInterval(watching);
            watching = null;
            refreshTest();
            post("gatehouse:connection-tested", {});
          }
        })
        .catch(function () {});
    }, 2500);
  }
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a[data-popup]");
    if (!link) return;
    var width = 520, height = 700;
    var left = window.screenX + Math.max(0, (window.outerWidth - width) / 2);
    var top = window.screenY + Math.max(0, (window.outerHeight - height) / 2);
    var popup = window.open(link.href, "gatehouse-test",
      "popup,width=" + width + ",height=" + height + ",left=" + left + ",top=" + top);
    if (popup) {
      event.preventDefault();
      popup.focus();
    }
    watchForResult();
  });

  // The popup reports back: show the result in place.
  window.addEventListener("message", function (event) {
    if (event.origin !== window.location.origin || !event.data) return;
    if (event.data.type !== "gatehouse:test-finished") return;
    if (watching) { clearInterval(watching); watching = null; }
    refreshTest();
    post("gatehouse:connection-tested", { outcome: event.data.outcome });
  });

  document.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest("[data-close-window]")) window.close();
  });

  document.addEventListener("DOMContentLoaded", function () {
    document.documentElement.classList.add("js");
    // In the popup, on the result page: tell the tab that opened it.
    var result = document.querySelector("[data-test-result]");
    if (result && window.opener) {
      try {
        window.opener.postMessage(
          { type: "gatehouse:test-finished", outcome: result.getAttribute("data-test-result") },
          window.location.origin);
      } catch (e) { /* the tab is gone */ }
    }
    // The HTTP-POST binding page: on to the identity provider.
    var autosubmit = document.querySelector("form[data-autosubmit]");
    if (autosubmit) autosubmit.submit();
    addSessionFields(document);
    var event = meta("gatehouse-event");
    if (event && !document.querySelector('[data-gatehouse-event="' + event + '"]')) post(event, {});
    postMarkedEvents(document.body);
    reportStep();
    reportHeight();
    if (window.ResizeObserver) new ResizeObserver(reportHeight).observe(document.body);
  });

  document.addEventListener("htmx:afterSettle", function (event) {
    addSessionFields(event.target);
    postMarkedEvents(event.target);
    reportStep();
    reportHeight();
    var main = document.getElementById("main");
    if (main && event.detail && event.detail.boosted) main.focus({ preventScroll: true });
  });

  // A response that says the session is over: tell the host page (the page
  // it swapped in says so too; the message goes once).
  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    if (xhr && xhr.getResponseHeader("Gatehouse-Error-Code") === "session_expired") {
      post("gatehouse:session-expired", {});
    }
  });
})();
