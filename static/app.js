// Gatehouse Security tab: the little JavaScript it needs. Everything works
// without it (plain links and form posts); with it, htmx makes navigation
// smoother and an embedded tab talks to its host page.
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
  function post(type, data) {
    if (!embedded) return;
    var message = { type: type };
    for (var key in data || {}) message[key] = data[key];
    window.parent.postMessage(message, parentOrigin);
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

  document.addEventListener("DOMContentLoaded", function () {
    document.documentElement.classList.add("js");
    addSessionFields(document);
    var event = meta("gatehouse-event");
    if (event) post(event, {});
    reportStep();
    reportHeight();
    if (window.ResizeObserver) new ResizeObserver(reportHeight).observe(document.body);
  });

  document.addEventListener("htmx:afterSettle", function (event) {
    addSessionFields(event.target);
    reportStep();
    reportHeight();
    var main = document.getElementById("main");
    if (main && event.detail && event.detail.boosted) main.focus({ preventScroll: true });
  });

  // A response that says the session is over: tell the host page.
  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    if (xhr && xhr.getResponseHeader("Gatehouse-Error-Code") === "session_expired") {
      post("gatehouse:session-expired", {});
    }
  });
})();
