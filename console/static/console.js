// The broadcast form's live count: who would receive the message, and when it would go out.
// The page works without it (the preview step shows the same count).
(function () {
  "use strict";
  var form = document.getElementById("compose");
  var out = document.getElementById("live-count");
  if (!form || !out || !window.fetch) { return; }
  var timer = null, asked = 0;
  function refresh() {
    var params = new URLSearchParams();
    new FormData(form).forEach(function (value, key) {
      if (key !== "csrf" && key !== "text") { params.append(key, value); }
    });
    var mine = ++asked;
    fetch(form.dataset.countUrl + "?" + params.toString(), { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (data) {
        if (mine !== asked) { return; }   // an older answer arriving late
        out.textContent = data.problem ? data.problem : out.dataset.template
          ? out.dataset.template.replace("{n}", data.recipients).replace("{time}", data.due)
          : data.recipients + " · " + data.due;
        out.dataset.recipients = data.recipients === undefined ? "" : String(data.recipients);
      })
      .catch(function () { out.textContent = ""; });
  }
  form.addEventListener("change", function () { clearTimeout(timer); timer = setTimeout(refresh, 150); });
  refresh();
})();
