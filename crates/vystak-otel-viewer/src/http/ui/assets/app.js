// vystak-otel viewer: the little interaction the server-rendered pages add.
// Everything is readable without it; this adds collapsing the span tree, live span search and
// row selection on the trace page.
(function () {
  "use strict";
  var rows = Array.prototype.slice.call(document.querySelectorAll(".waterfall .row"));
  if (!rows.length) return;

  function depth(r) { return parseInt(r.getAttribute("data-depth"), 10) || 0; }

  // Hide every row under a collapsed row.
  function applyCollapse() {
    var hideBelow = -1;
    rows.forEach(function (r) {
      var d = depth(r);
      if (hideBelow >= 0 && d > hideBelow) { r.classList.add("hidden"); return; }
      hideBelow = -1;
      r.classList.remove("hidden");
      if (r.classList.contains("collapsed")) hideBelow = d;
    });
  }

  rows.forEach(function (r) {
    var tog = r.querySelector(".tog");
    if (tog) tog.addEventListener("click", function (ev) {
      ev.preventDefault(); ev.stopPropagation();
      r.classList.toggle("collapsed");
      tog.setAttribute("aria-label", r.classList.contains("collapsed") ? "expand" : "collapse");
      applyCollapse();
    });
    r.addEventListener("click", function (ev) {
      if (ev.target.closest("a") && !ev.target.closest("a.span-link")) return;
      ev.preventDefault();
      show(r.getAttribute("data-id"), false);
    });
  });

  function setAll(collapsed) {
    rows.forEach(function (r) { if (r.querySelector(".tog")) r.classList.toggle("collapsed", collapsed); });
    applyCollapse();
  }
  var ex = document.getElementById("expand-all"), co = document.getElementById("collapse-all");
  if (ex) ex.addEventListener("click", function () { setAll(false); });
  if (co) co.addEventListener("click", function () { setAll(true); });

  // Live search: highlight rows whose search text contains the term.
  var input = document.getElementById("span-search"), count = document.getElementById("hit-count");
  function search() {
    var q = (input.value || "").trim().toLowerCase(), n = 0;
    rows.forEach(function (r) {
      var hit = q !== "" && (r.getAttribute("data-search") || "").indexOf(q) >= 0;
      r.classList.toggle("hit", hit);
      if (hit) n++;
    });
    count.textContent = q === "" ? "" : n + " matching";
  }
  if (input) input.addEventListener("input", search);

  // Selecting a span: outline its row, show its details, keep it in the URL (#span-…) without
  // the jump to the details panel that a plain fragment link makes.
  function show(id, scroll) {
    rows.forEach(function (r) { r.classList.remove("selected"); });
    document.querySelectorAll(".detail.active").forEach(function (d) { d.classList.remove("active"); });
    var r = document.getElementById("row-" + id), d = document.getElementById("span-" + id);
    if (!r || !d) return;
    r.classList.add("selected");
    d.classList.add("active");
    document.querySelector("aside.details").classList.add("has-active");
    if (history.replaceState) history.replaceState(null, "", "#span-" + id);
    if (scroll) { window.scrollTo(0, 0); r.scrollIntoView({ block: "nearest" }); }
  }
  function fromHash() {
    var m = /^#span-([0-9a-f]+)$/.exec(location.hash);
    if (m) show(m[1], true);
  }
  window.addEventListener("hashchange", fromHash);
  fromHash();
})();
