// Charts for the dashboard, from data the server embedded with json_script.
document.addEventListener("DOMContentLoaded", function () {
  if (typeof Chart === "undefined") { return; }
  var series = JSON.parse(document.getElementById("series-data").textContent);
  var statuses = JSON.parse(document.getElementById("status-data").textContent);
  var days = series.map(function (s) { return s.day.slice(5); });
  // Chart.js fills in the options it is given, so each chart gets its own copy.
  function common() { return { responsive: true, maintainAspectRatio: false, animation: false }; }
  // The page's colours (light or dark, as the system is set), from app.css.
  var css = getComputedStyle(document.documentElement);
  function colour(name) { return css.getPropertyValue(name).trim(); }
  var accent = colour("--accent"), ok = colour("--ok"), bad = colour("--bad");
  Chart.defaults.color = colour("--muted") || Chart.defaults.color;
  Chart.defaults.borderColor = colour("--line") || Chart.defaults.borderColor;
  new Chart(document.getElementById("orders-chart"), {
    type: "bar",
    data: { labels: days, datasets: [
      { label: "Placed", data: series.map(function (s) { return s.placed; }), backgroundColor: accent },
      { label: "Cancelled", data: series.map(function (s) { return s.cancelled; }), backgroundColor: bad }
    ] },
    options: common()
  });
  new Chart(document.getElementById("revenue-chart"), {
    type: "line",
    data: { labels: days, datasets: [
      { label: "Revenue", data: series.map(function (s) { return s.revenue_cents / 100; }), borderColor: ok, backgroundColor: ok, tension: 0.2 }
    ] },
    options: common()
  });
  new Chart(document.getElementById("status-chart"), {
    type: "doughnut",
    data: { labels: ["Open", "Shipped", "Cancelled"], datasets: [
      { data: [statuses.placed, statuses.shipped, statuses.cancelled], backgroundColor: [accent, ok, bad] }
    ] },
    options: common()
  });
  document.body.dataset.chartsReady = "true";
});
