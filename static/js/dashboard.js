// Charts for the dashboard, from data the server embedded with json_script.
document.addEventListener("DOMContentLoaded", function () {
  if (typeof Chart === "undefined") { return; }
  var series = JSON.parse(document.getElementById("series-data").textContent);
  var statuses = JSON.parse(document.getElementById("status-data").textContent);
  var days = series.map(function (s) { return s.day.slice(5); });
  // Chart.js fills in the options it is given, so each chart gets its own copy.
  function common() { return { responsive: true, maintainAspectRatio: false, animation: false }; }
  new Chart(document.getElementById("orders-chart"), {
    type: "bar",
    data: { labels: days, datasets: [
      { label: "Placed", data: series.map(function (s) { return s.placed; }), backgroundColor: "#0b5cad" },
      { label: "Cancelled", data: series.map(function (s) { return s.cancelled; }), backgroundColor: "#b42318" }
    ] },
    options: common()
  });
  new Chart(document.getElementById("revenue-chart"), {
    type: "line",
    data: { labels: days, datasets: [
      { label: "Revenue", data: series.map(function (s) { return s.revenue_cents / 100; }), borderColor: "#1a7f37", backgroundColor: "#1a7f37", tension: 0.2 }
    ] },
    options: common()
  });
  new Chart(document.getElementById("status-chart"), {
    type: "doughnut",
    data: { labels: ["Open", "Shipped", "Cancelled"], datasets: [
      { data: [statuses.placed, statuses.shipped, statuses.cancelled], backgroundColor: ["#0b5cad", "#1a7f37", "#b42318"] }
    ] },
    options: common()
  });
  document.body.dataset.chartsReady = "true";
});
