// The console's map and charts: Leaflet and ECharts from the package, data from the page.
"use strict";

function colour(props) {
  if (props.open === null) return "#90a4ae";  // the caller has no statistics: no figures
  if (props.overdue > 0) return "#c62828";
  if (props.open > 0) return "#ef8f00";
  return "#4caf50";
}

function drawMap(element) {
  const map = L.map(element, { zoomSnap: 0.25, attributionControl: false });
  if (element.dataset.tiles) L.tileLayer(element.dataset.tiles, { maxZoom: 19 }).addTo(map);
  fetch(element.dataset.geojson, { credentials: "same-origin" })
    .then((answer) => answer.json())
    .then((shapes) => {
      const layer = L.geoJSON(shapes, {
        style: (feature) => feature.properties.kind === "community"
          ? { color: "#12344d", weight: 2, fill: false }
          : {
            fillColor: colour(feature.properties),
            fillOpacity: 0.55,
            // An open hot spot (未诉先办): a dashed outline over the grid's colour.
            ...(feature.properties.hotspots.length
              ? { color: "#6a1b9a", weight: 3, dashArray: "6 4" }
              : { color: "#ffffff", weight: 1 }),
          },
        onEachFeature: (feature, shape) => {
          const p = feature.properties;
          if (p.kind === "community") return;
          shape.on("add", () => {
            const path = shape.getElement();
            path.setAttribute("data-testid", "grid-shape");
            path.setAttribute("data-grid", p.code);
            if (p.hotspots.length) path.setAttribute("data-hotspot", "true");
          });
          if (element.dataset.pick) return;
          const words = JSON.parse(element.dataset.words);
          const figures = words.figures.replace("{open}", p.open).replace("{overdue}", p.overdue);
          shape.bindPopup(
            `<strong>${p.code} ${p.name}</strong>` +
            (p.open === null ? "" : `<br>${figures}`) +
            p.hotspots.map((spot) => "<br>" + words.hotspot
              .replace("{category}", spot.category)
              .replace("{requests}", spot.requests)
              .replace("{case}", `<a href="/console/cases/${encodeURIComponent(spot.case)}">${spot.case}</a>`)
            ).join("") +
            `<br><a href="/console?grid=${encodeURIComponent(p.code)}">${words.cases}</a>`
          );
        },
      }).addTo(map);
      map.fitBounds(layer.getBounds());
      element.dataset.drawn = String(shapes.features.length);
    });
  if (element.dataset.pick) {
    // Intake: a click on the map places the case (the API puts the point in its micro-grid).
    let marker = null;
    map.on("click", (event) => {
      const form = element.closest("form");
      form.elements.lat.value = event.latlng.lat.toFixed(6);
      form.elements.lon.value = event.latlng.lng.toFixed(6);
      if (marker) marker.remove();
      marker = L.circleMarker(event.latlng, { radius: 7, color: "#0b5cad" }).addTo(map);
    });
  }
}

function drawCharts() {
  const source = document.getElementById("kpi-data");
  if (!source) return;
  const data = JSON.parse(source.textContent);
  document.querySelectorAll("[data-chart]").forEach((element) => {
    const chart = echarts.init(element, null, { renderer: "svg" });
    const rate = element.dataset.chart;
    chart.setOption({
      title: { text: data.rate_words[rate], left: "center", textStyle: { fontSize: 14 } },
      tooltip: {
        trigger: "axis",
        formatter: (items) => items.map((item) => {
          const row = data.rows[item.dataIndex].rates[rate];
          return `${item.name}: ${item.value ?? "-"}% (${row.numerator}/${row.denominator})`;
        }).join("<br>"),
      },
      // Names (not codes) on the category axis: across, one bar a line, cut short with the
      // whole name in the tooltip; months side by side.
      grid: data.horizontal
        ? { left: 130, right: 20, bottom: 30, top: 40 }
        : { left: 40, right: 10, bottom: 50, top: 40 },
      [data.horizontal ? "yAxis" : "xAxis"]: {
        type: "category",
        inverse: data.horizontal,
        data: data.rows.map((row) => row.label),
        axisLabel: data.horizontal
          ? { width: 118, overflow: "truncate", interval: 0 }
          : { rotate: 30, width: 80, overflow: "truncate" },
      },
      [data.horizontal ? "xAxis" : "yAxis"]: { type: "value", min: 0, max: 100 },
      series: [{
        type: "bar",
        barMaxWidth: 22,
        itemStyle: { color: "#0b5cad" },
        data: data.rows.map((row) => {
          const value = row.rates[rate].value;
          return value === null ? null : Math.round(value * 1000) / 10;
        }),
      }],
    });
    window.addEventListener("resize", () => chart.resize());
    element.dataset.drawn = "true";
  });
}

function drawFlow() {
  const source = document.getElementById("flow-data");
  if (!source) return;
  const data = JSON.parse(source.textContent);
  document.querySelectorAll("[data-flow]").forEach((element) => {
    const table = data[element.dataset.flow];
    const names = element.dataset.series ? JSON.parse(element.dataset.series) : [""];
    // Two series (p50, p90) for the time in a state; one for the others.
    const series = (table.p50 ? [table.p50, table.p90] : [table.values]).map((values, n) => ({
      name: names[n],
      type: "bar",
      itemStyle: { color: n ? "#90a4ae" : "#0b5cad" },
      data: values,
    }));
    const across = element.dataset.flow !== "backlog";  // names read across, one bar a line
    const chart = echarts.init(element, null, { renderer: "svg" });
    chart.setOption({
      animation: false,
      title: { text: element.dataset.title, left: "center", textStyle: { fontSize: 14 } },
      tooltip: { trigger: "axis" },
      legend: table.p50 ? { top: 22 } : undefined,
      grid: across
        ? { left: 200, right: 20, bottom: 30, top: table.p50 ? 50 : 40 }
        : { left: 40, right: 10, bottom: 30, top: 40 },
      [across ? "yAxis" : "xAxis"]: {
        type: "category",
        inverse: across,
        data: table.labels,
        axisLabel: across ? { width: 188, overflow: "truncate", interval: 0 } : {},
      },
      [across ? "xAxis" : "yAxis"]: { type: "value" },
      series,
    });
    window.addEventListener("resize", () => chart.resize());
    element.dataset.drawn = "true";
  });
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-geojson]").forEach(drawMap);
  drawCharts();
  drawFlow();
});
