// The sample host page's side of the embedding protocol: size the frame to
// the tab's content and show the events the tab posts.
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="gatehouse-origin"]');
  var origin = meta && meta.content;
  var frame = document.getElementById("gatehouse-frame");
  var last = document.getElementById("gatehouse-last-event");
  window.addEventListener("message", function (event) {
    // Only messages from Gatehouse's origin, and only from our frame.
    if (event.origin !== origin || !frame || event.source !== frame.contentWindow) return;
    var data = event.data || {};
    if (typeof data.type !== "string" || data.type.indexOf("gatehouse:") !== 0) return;
    if (data.type === "gatehouse:height" && typeof data.height === "number") {
      frame.style.height = Math.max(200, Math.ceil(data.height)) + "px";
    }
    if (last) last.textContent = JSON.stringify(data);
    if (data.type === "gatehouse:session-expired") window.location.reload();
  });
  // Copy buttons of the demo walkthrough: <button data-copy="#input-id">.
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-copy]");
    if (!button) return;
    var source = document.querySelector(button.getAttribute("data-copy"));
    if (!source) return;
    source.select();
    if (!navigator.clipboard) return;
    navigator.clipboard.writeText(source.value).then(function () {
      var label = button.textContent;
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = label; }, 1500);
    });
  });
})();
