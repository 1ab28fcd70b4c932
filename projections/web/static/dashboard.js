// send-exchange dashboard: listens to /api/live and swaps in the re-rendered sections when the
// read model moves past the position the page shows. No library; the page works without it.
(function () {
  "use strict";
  var main = document.getElementById("main");
  var status = document.getElementById("live-status");
  if (!main || !status || !window.EventSource) { return; }
  var shown = Number(main.dataset.position || 0);
  var loading = false;
  var again = false;

  function say(text) {
    var state = status.querySelector(".live-state");
    if (state) { state.textContent = text; }
  }

  function openDetails(root) {
    return Array.prototype.map.call(root.querySelectorAll("details[open] > summary"),
      function (s) { return s.textContent; });
  }

  function refresh() {
    if (loading) { again = true; return; }
    loading = true;
    fetch(window.location.href, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.text(); })
      .then(function (html) {
        var next = new DOMParser().parseFromString(html, "text/html");
        var focused = document.activeElement && document.activeElement.id;
        document.querySelectorAll("section.live").forEach(function (section) {
          var fresh = next.getElementById(section.id);
          if (!fresh || fresh.innerHTML === section.innerHTML) { return; }
          var open = openDetails(section);
          section.innerHTML = fresh.innerHTML;
          section.querySelectorAll("details > summary").forEach(function (s) {
            if (open.indexOf(s.textContent) >= 0) { s.parentElement.open = true; }
          });
        });
        if (focused && document.getElementById(focused)) {
          document.getElementById(focused).focus();
        }
        var nextMain = next.getElementById("main");
        shown = Number((nextMain && nextMain.dataset.position) || shown);
        main.dataset.position = String(shown);
        var position = status.querySelector("[data-testid=position]");
        if (position) { position.textContent = String(shown); }
        status.classList.add("updated");
        say("Updated live at " + new Date().toLocaleTimeString("en-GB") + ".");
      })
      .catch(function (e) { say("Live update failed (" + e.message + "); reload the page."); })
      .then(function () {
        loading = false;
        if (again) { again = false; refresh(); }
      });
  }

  var source = new EventSource("/api/live");
  source.addEventListener("open", function () { say("Live: figures update by themselves."); });
  source.addEventListener("snapshot", function (e) {
    var data = JSON.parse(e.data);
    if (data.position > shown) { refresh(); }
  });
  source.addEventListener("change", function (e) {
    var data = JSON.parse(e.data);
    if (data.position > shown) { refresh(); }
  });
  source.addEventListener("error", function () {
    say("Live updates paused: reconnecting…");
  });
})();
