/* Leaflet maps fed from the points in their data-points attribute. The markers and the list beside the map do not
   depend on the tiles: when the tile server cannot be reached the page says so and carries on. */
(function () {
  "use strict";

  var COLOURS = { stated: "#1f5fbf", exif: "#d9480f" };

  function note(container, text) {
    var p = document.createElement("p");
    p.className = "map-note";
    p.setAttribute("role", "status");
    p.textContent = text;
    container.insertAdjacentElement("afterend", p);
    return p;
  }

  function popup(point) {
    var box = document.createElement("div");
    var title = document.createElement(point.url ? "a" : "strong");
    title.textContent = point.title || point.label || "";
    if (point.url) title.href = point.url;
    box.appendChild(title);
    var detail = [point.kind, point.source, point.place].filter(Boolean).join(" · ");
    if (detail) {
      var small = document.createElement("div");
      small.textContent = detail;
      box.appendChild(small);
    }
    return box;
  }

  // Country borders and coastlines (world-atlas, Natural Earth 1:50m) drawn under the markers,
  // from the static files: no network needed.
  function basemap(map, container) {
    var url = container.getAttribute("data-basemap");
    if (!url || !window.topojson || !window.fetch) return;
    if (!map.getPane("basemap")) {
      map.createPane("basemap");
      map.getPane("basemap").style.zIndex = 150;
    }
    container.classList.add("map-offline");
    fetch(url, { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : Promise.reject(response.status); })
      .then(function (world) {
        var land = window.topojson.feature(world, world.objects.countries);
        var borders = window.topojson.mesh(world, world.objects.countries, function (a, b) { return a !== b; });
        window.L.geoJSON(land, {
          pane: "basemap",
          interactive: false,
          style: { color: "#9aa5b1", weight: 0.8, fillColor: "#e8e4d8", fillOpacity: 1 },
        }).addTo(map);
        window.L.geoJSON(borders, {
          pane: "basemap",
          interactive: false,
          style: { color: "#7b8794", weight: 1, dashArray: "3 3", fill: false },
        }).addTo(map);
        container.setAttribute("data-basemap-drawn", "1");
      })
      .catch(function () {
        note(container, "The offline map could not be drawn either; the markers are still shown.");
      });
  }

  // Each item's stated place joined to its camera's GPS position, with the distance.
  function lines(map, container) {
    var pairs = JSON.parse(container.getAttribute("data-pairs") || "[]");
    pairs.forEach(function (pair) {
      // Where they agree the two markers already sit on each other: nothing to join.
      if (pair.km < 0.5) return;
      var line = window.L.polyline([pair.stated, pair.camera], {
        color: "#7b2cbf", weight: 2, dashArray: "6 4", className: "place-pair-line", interactive: false,
      });
      line.bindTooltip(pair.km.toLocaleString() + " km", { permanent: true, direction: "center", className: "place-pair-distance" });
      line.addTo(map);
    });
  }

  function setup(container) {
    if (container.getAttribute("data-map-ready")) return;
    container.setAttribute("data-map-ready", "1");
    var points = JSON.parse(container.getAttribute("data-points") || "[]");
    if (!window.L) {
      note(container, "The map could not be loaded; the locations are listed below.");
      return;
    }
    var map = window.L.map(container, { scrollWheelZoom: false });
    var tileUrl = container.getAttribute("data-tile-url");
    var warned = false;
    var tiles = null;
    if (tileUrl) {
      tiles = window.L.tileLayer(tileUrl, {
        maxZoom: 18,
        attribution: container.getAttribute("data-attribution") || "",
      });
      // The first tile that fails: the tile server is out of reach (offline, or blocked).
      // Stop asking it (every pan would fail again) and draw the basemap shipped with the app.
      tiles.on("tileerror", function () {
        if (warned) return;
        warned = true;
        map.removeLayer(tiles);
        note(container, "Map tiles could not be loaded: an offline map of borders and coastlines is shown instead.");
        basemap(map, container);
      });
      tiles.addTo(map);
    } else {
      warned = true;
      basemap(map, container);
    }
    lines(map, container);

    var markers = points.map(function (point) {
      var kind = point.kind === "exif" || point.exif ? "exif" : "stated";
      // The stated place is a ring and the camera's position a dot, so that both show when
      // they coincide (as they should).
      var style = kind === "exif"
        ? { radius: 6, color: "#ffffff", weight: 2, fillColor: COLOURS.exif, fillOpacity: 1 }
        : { radius: 12, color: COLOURS.stated, weight: 3, fillColor: COLOURS.stated, fillOpacity: 0.15 };
      var marker = window.L.circleMarker([point.lat, point.lon], style);
      marker.bindPopup(popup(point));
      marker.addTo(map);
      return marker;
    });
    if (points.length === 1) {
      map.setView([points[0].lat, points[0].lon], 12);
    } else if (points.length > 1) {
      var bounds = window.L.latLngBounds(points.map(function (p) { return [p.lat, p.lon]; }));
      map.fitBounds(bounds, { padding: [30, 30], maxZoom: 13 });
    } else {
      map.setView([0, 0], 1);
    }

    var listId = container.getAttribute("data-list");
    var list = listId && document.getElementById(listId);
    if (list) {
      list.addEventListener("click", function (event) {
        var button = event.target.closest("[data-point]");
        if (!button) return;
        var marker = markers[Number(button.getAttribute("data-point"))];
        if (!marker) return;
        list.querySelectorAll(".active").forEach(function (el) { el.classList.remove("active"); });
        button.classList.add("active");
        map.setView(marker.getLatLng(), Math.max(map.getZoom(), 10));
        marker.openPopup();
      });
    }
  }

  function init() {
    document.querySelectorAll("[data-map]").forEach(setup);
    // Content swapped in by htmx (a photo page refreshing itself when processing ends).
    document.addEventListener("htmx:load", function (event) {
      var root = event.detail && event.detail.elt;
      if (!root || !root.querySelectorAll) return;
      if (root.matches && root.matches("[data-map]")) setup(root);
      root.querySelectorAll("[data-map]").forEach(setup);
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
