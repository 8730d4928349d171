// The reports dashboard's charts, drawn with the vendored Chart.js from the
// numbers the page carries in <script type="application/json" id="report-data">
// (the CSP allows no inline script). Each canvas gets data-drawn once drawn.
(function () {
  "use strict";

  function start() {
    var source = document.getElementById("report-data");
    if (!source || typeof window.Chart === "undefined") {
      return;
    }
    var data = JSON.parse(source.textContent);
    var text = data.text;
    var styles = getComputedStyle(document.documentElement);
    function color(name, fallback) {
      return styles.getPropertyValue(name).trim() || fallback;
    }
    var blue = color("--bs-primary", "#0d6efd");
    var green = color("--bs-success", "#198754");
    var orange = color("--bs-warning", "#ffc107");
    var grey = color("--bs-secondary", "#6c757d");
    var reduced = window.matchMedia("(prefers-reduced-motion: reduce)").matches;

    window.Chart.defaults.font.family = styles.getPropertyValue("--bs-body-font-family");
    window.Chart.defaults.animation = reduced ? false : { duration: 300 };
    window.Chart.defaults.maintainAspectRatio = false;

    function draw(id, config) {
      var canvas = document.getElementById(id);
      if (!canvas) {
        return;
      }
      new window.Chart(canvas, config);
      canvas.dataset.drawn = "true";
    }

    function line(label, values, stroke) {
      return {
        label: label,
        data: values,
        borderColor: stroke,
        backgroundColor: stroke,
        pointRadius: values.length > 45 ? 0 : 2,
        tension: 0.2,
        borderWidth: 2,
      };
    }

    var integer = { beginAtZero: true, ticks: { precision: 0 } };
    var timeAxis = { ticks: { maxTicksLimit: 10, autoSkip: true } };

    draw("chart-daily", {
      type: "line",
      data: {
        labels: data.days,
        datasets: [
          line(text.created, data.created, blue),
          line(text.resolved, data.resolved, green),
        ],
      },
      options: {
        interaction: { mode: "index", intersect: false },
        scales: { x: timeAxis, y: integer },
      },
    });
    draw("chart-backlog", {
      type: "line",
      data: {
        labels: data.days,
        datasets: [Object.assign(line(text.backlog, data.backlog, orange), { fill: false })],
      },
      options: {
        interaction: { mode: "index", intersect: false },
        plugins: { legend: { display: false } },
        scales: { x: timeAxis, y: integer },
      },
    });
    draw("chart-categories", {
      type: "bar",
      data: {
        labels: data.categories.labels,
        datasets: [{ label: text.tickets, data: data.categories.counts, backgroundColor: blue }],
      },
      options: {
        indexAxis: "y",
        plugins: { legend: { display: false } },
        scales: { x: integer },
      },
    });
    draw("chart-agents", {
      type: "bar",
      data: {
        labels: data.agents.labels,
        datasets: [
          { label: text.open_now, data: data.agents.open, backgroundColor: orange },
          { label: text.assigned, data: data.agents.assigned, backgroundColor: grey },
        ],
      },
      options: { indexAxis: "y", scales: { x: integer } },
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
