// ticketflow console: live countdowns and the Chatwoot Dashboard App bridge.
// Vendored with the console, no build step; htmx.min.js does the rest.
(function () {
  "use strict";

  function fmt(seconds) {
    var s = Math.abs(Math.trunc(seconds));
    var d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    var parts = d ? [d + "d", h + "h", m + "m"] : h ? [h + "h", m + "m", r + "s"] : [m + "m", r + "s"];
    return parts.join(" ");
  }

  // How long a ticket has been open, in client/tickets.py's `age` words: "3d 4h", "5h 12m", "14m".
  function age(seconds) {
    var m = Math.max(0, Math.floor(seconds / 60)), d = Math.floor(m / 1440), h = Math.floor((m % 1440) / 60);
    return d ? d + "d " + h + "h" : h ? h + "h " + (m % 60) + "m" : m + "m";
  }

  // Every element with data-deadline shows the time left to it, each second;
  // every element with data-since, how long ago that was.
  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-since]").forEach(function (el) {
      el.textContent = age((now - Date.parse(el.dataset.since)) / 1000);
    });
    document.querySelectorAll("[data-deadline]").forEach(function (el) {
      var left = (Date.parse(el.dataset.deadline) - now) / 1000;
      el.textContent = left >= 0 ? "in " + fmt(left) : fmt(left) + " overdue";
      el.classList.toggle("overdue", left < 0);
      el.classList.toggle("soon", left >= 0 && left < 600);
    });
  }
  tick();
  setInterval(tick, 1000);
  document.addEventListener("htmx:afterSwap", tick);

  // The board's "Mine" overrides the owner filter: grey the owner picker out (and leave it out of the
  // request) while it is on. This runs before htmx, which listens on the form, sends the change.
  var mine = document.querySelector("#filters input[name=mine]"), owner = document.getElementById("owner-filter");
  if (mine && owner) mine.addEventListener("change", function () { owner.disabled = mine.checked; });

  // Dev mode's "acting as" picker submits itself (here, not in an inline handler the CSP would refuse).
  var actAs = document.getElementById("act-as");
  if (actAs) actAs.addEventListener("change", function () { actAs.form.submit(); });

  // Chatwoot Dashboard App: Chatwoot posts {event: "appContext", data: {conversation, contact, currentAgent}}
  // (a JSON string) to this frame, on load and when asked with "chatwoot-dashboard-app:fetch-info".
  var app = document.getElementById("chatwoot-app");
  if (!app) return;
  var allowed = app.dataset.chatwootOrigin;
  var shown = null;

  function onMessage(event) {
    // Only Chatwoot (CHATWOOT_BASE_URL) or this page's own origin may say which conversation to show.
    if (event.origin !== window.location.origin && (!allowed || event.origin !== allowed)) return;
    var msg = event.data;
    if (typeof msg === "string") {
      try { msg = JSON.parse(msg); } catch (e) { return; }
    }
    if (!msg || msg.event !== "appContext" || !msg.data || !msg.data.conversation) return;
    var conv = msg.data.conversation;
    var id = conv.display_id || conv.id;
    var account = conv.account_id || app.dataset.defaultAccount;
    if (!id || String(account) + "/" + String(id) === shown) return;
    shown = String(account) + "/" + String(id);
    document.getElementById("waiting").textContent = "Conversation #" + id +
      (msg.data.contact && msg.data.contact.name ? " · " + msg.data.contact.name : "");
    htmx.ajax("GET", "/console/chatwoot/panel?account=" + encodeURIComponent(account) +
              "&conversation=" + encodeURIComponent(id), {target: "#panel", swap: "outerHTML"});
  }
  window.addEventListener("message", onMessage);
  if (window.parent && window.parent !== window) {
    window.parent.postMessage("chatwoot-dashboard-app:fetch-info", "*");
  }
})();
