// The MovieMetric dashboard: every figure comes from the API's own JSON endpoints,
// fetched with URLs relative to the page (so it works under a root_path), and the charts
// are SVG drawn here: no library, no other host. Each panel records what it drew in
// data attributes (data-state, data-points) for people's tools and for the tests.
"use strict";

(() => {
  const SVG_NS = "http://www.w3.org/2000/svg";
  const TRENDING_LIMIT = 20;
  const SEARCH_LIMIT = 8;
  const SEARCH_DELAY_MS = 250;
  const GENRE_LINES = 6;
  const COLORS = ["#1b6ca8", "#d1495b", "#2a9d8f", "#e9a03b", "#6a4c93", "#5c677d"];
  const METRIC_DIGITS = { avg_rating: 2, avg_popularity: 1 };

  const $ = (id) => document.getElementById(id);

  async function getJson(path, params = {}) {
    const url = new URL(path, document.baseURI);
    for (const [name, value] of Object.entries(params)) {
      if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
    }
    const response = await fetch(url, { headers: { accept: "application/json" } });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      const detail = Array.isArray(body.detail)
        ? body.detail.map((error) => error.msg).join("; ")
        : body.detail;
      throw new Error(`${url.pathname} answered ${response.status}: ${detail || "no detail"}`);
    }
    return body;
  }

  function format(value, digits = 0) {
    if (value === null || value === undefined) return "–";
    return Number(value).toLocaleString("en", {
      minimumFractionDigits: digits,
      maximumFractionDigits: digits,
    });
  }

  function element(tag, text, attributes = {}) {
    const node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
    return node;
  }

  function svg(tag, attributes = {}, text) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function finish(panel, status, state, points, message) {
    panel.dataset.state = state;
    panel.dataset.points = String(points);
    status.textContent = message;
  }

  function failed(panel, status, error) {
    finish(panel, status, "error", 0, `Could not load: ${error.message}`);
  }

  function movieLabel(movie) {
    return movie.release_year ? `${movie.title} (${movie.release_year})` : movie.title;
  }

  // A chart frame: an SVG with a title for screen readers, y gridlines and labels.
  function chartFrame(container, label, yMax, yDigits) {
    const width = 640;
    const height = 260;
    const margin = { top: 12, right: 28, bottom: 36, left: 56 };
    const root = svg("svg", {
      viewBox: `0 0 ${width} ${height}`,
      role: "img",
      "aria-label": label,
    });
    root.append(svg("title", {}, label));
    const plot = {
      left: margin.left,
      right: width - margin.right,
      top: margin.top,
      bottom: height - margin.bottom,
    };
    const y = (value) => plot.bottom - (value / yMax) * (plot.bottom - plot.top);
    for (let tick = 0; tick <= 4; tick += 1) {
      const value = (yMax * tick) / 4;
      root.append(
        svg("line", { x1: plot.left, x2: plot.right, y1: y(value), y2: y(value), class: "grid" }),
        svg("text", { x: plot.left - 6, y: y(value) + 4, class: "tick", "text-anchor": "end" },
          format(value, yDigits)),
      );
    }
    container.replaceChildren(root);
    return { root, plot, y };
  }

  function niceMax(values) {
    const max = Math.max(...values, 0);
    if (max <= 0) return 1;
    const magnitude = 10 ** Math.floor(Math.log10(max));
    return Math.ceil(max / magnitude) * magnitude;
  }

  // --- trending -------------------------------------------------------------------

  function momentumCell(momentum) {
    const cell = element("td");
    if (momentum === null || momentum === undefined) {
      cell.textContent = "–";
      return cell;
    }
    const percent = Math.round(momentum * 100);
    const arrow = percent > 0 ? "▲" : percent < 0 ? "▼" : "";
    cell.className = percent > 0 ? "rising" : percent < 0 ? "falling" : "";
    cell.append(element("span", arrow, { "aria-hidden": "true" }));
    cell.append(` ${percent > 0 ? "+" : ""}${percent}%`);
    return cell;
  }

  async function loadTrending() {
    const panel = $("trending");
    const status = $("trending-status");
    try {
      const body = await getJson("movies/trending", { limit: TRENDING_LIMIT });
      const rows = body.items.map((movie) => {
        const row = element("tr");
        const title = element("td");
        const button = element("button", movieLabel(movie), { type: "button", class: "link" });
        button.addEventListener("click", () => showRecommendations(movie));
        title.append(button);
        row.append(
          element("td", String(movie.rank), { class: "number" }),
          title,
          element("td", format(movie.score, 2), { class: "number" }),
          element("td", format(movie.popularity, 1), { class: "number" }),
          element("td", format(movie.avg_popularity_7d, 1), { class: "number" }),
          momentumCell(movie.momentum),
        );
        return row;
      });
      $("trending-table").tBodies[0].replaceChildren(...rows);
      $("trending-date").textContent = body.date || "no published day";
      const message = rows.length ? "" : "Nothing is trending on the latest published day.";
      finish(panel, status, rows.length ? "ready" : "empty", rows.length, message);
    } catch (error) {
      failed(panel, status, error);
    }
  }

  // --- genre statistics over time ---------------------------------------------------

  let genreSeries = [];

  function drawGenreChart() {
    const panel = $("genre-stats");
    const status = $("genre-status");
    const select = $("genre-metric");
    const metric = select.value;
    const metricName = select.options[select.selectedIndex].text;
    const days = [...new Set(genreSeries.map((item) => item.stat_date))].sort();
    if (!days.length) {
      $("genre-chart").replaceChildren();
      $("genre-legend").replaceChildren();
      finish(panel, status, "empty", 0, "No genre statistics are published.");
      return;
    }
    // The genres with the most movies on the latest day, one line each.
    const latest = days[days.length - 1];
    const genres = genreSeries
      .filter((item) => item.stat_date === latest)
      .sort((a, b) => b.movie_count - a.movie_count || a.genre_name.localeCompare(b.genre_name))
      .slice(0, GENRE_LINES)
      .map((item) => item.genre_name);
    const values = genreSeries
      .filter((item) => genres.includes(item.genre_name) && item[metric] !== null)
      .map((item) => item[metric]);
    const digits = METRIC_DIGITS[metric] || 0;
    const label = `${metricName} per day, ${days[0]} to ${latest}, of ${genres.join(", ")}`;
    const { root, plot, y } = chartFrame($("genre-chart"), label, niceMax(values), digits);
    const step = days.length > 1 ? (plot.right - plot.left) / (days.length - 1) : 0;
    const x = (day) =>
      days.length > 1 ? plot.left + days.indexOf(day) * step : (plot.left + plot.right) / 2;
    const labelEvery = Math.max(1, Math.ceil(days.length / 6));
    days.forEach((day, index) => {
      if (index % labelEvery === 0 || index === days.length - 1) {
        root.append(svg("text", { x: x(day), y: plot.bottom + 20, class: "tick",
          "text-anchor": "middle" }, day.slice(5)));
      }
    });
    let points = 0;
    const legend = genres.map((genre, index) => {
      const color = COLORS[index % COLORS.length];
      const series = genreSeries
        .filter((item) => item.genre_name === genre && item[metric] !== null)
        .sort((a, b) => a.stat_date.localeCompare(b.stat_date));
      const group = svg("g", { class: "series", "data-genre": genre });
      group.append(svg("polyline", {
        points: series.map((item) => `${x(item.stat_date)},${y(item[metric])}`).join(" "),
        fill: "none",
        stroke: color,
        "stroke-width": 2,
      }));
      for (const item of series) {
        const dot = svg("circle", { cx: x(item.stat_date), cy: y(item[metric]), r: 3,
          fill: color });
        dot.append(svg("title", {},
          `${genre}, ${item.stat_date}: ${format(item[metric], digits)}`));
        group.append(dot);
      }
      root.append(group);
      points += series.length;
      const entry = element("li", genre);
      entry.style.setProperty("--swatch", color);
      return entry;
    });
    $("genre-legend").replaceChildren(...legend);
    $("genre-caption").textContent =
      `${metricName} of the ${genres.length} largest genres on each of the ${days.length} ` +
      `days held (${days[0]} to ${latest}).`;
    finish(panel, status, points ? "ready" : "empty", points, "");
    panel.dataset.series = String(genres.length);
    panel.dataset.days = String(days.length);
  }

  async function loadGenreStats() {
    try {
      genreSeries = (await getJson("analytics/genre-stats")).items;
      drawGenreChart();
      $("genre-metric").addEventListener("change", drawGenreChart);
    } catch (error) {
      failed($("genre-stats"), $("genre-status"), error);
    }
  }

  // --- ratings by decade --------------------------------------------------------------

  async function loadDecades() {
    const panel = $("decades");
    const status = $("decades-status");
    try {
      const decades = (await getJson("analytics/ratings-by-decade")).items.filter(
        (item) => item.avg_rating !== null,
      );
      if (!decades.length) {
        $("decades-chart").replaceChildren();
        finish(panel, status, "empty", 0, "No rated movies are published.");
        return;
      }
      const label = "Average rating per release decade: " +
        decades.map((item) => `${item.decade}s ${format(item.avg_rating, 2)}`).join(", ");
      const { root, plot, y } = chartFrame($("decades-chart"), label, 10, 1);
      const slot = (plot.right - plot.left) / decades.length;
      decades.forEach((item, index) => {
        const left = plot.left + index * slot + slot * 0.15;
        const bar = svg("rect", {
          x: left,
          y: y(item.avg_rating),
          width: slot * 0.7,
          height: plot.bottom - y(item.avg_rating),
          class: "bar",
          "data-decade": item.decade,
        });
        bar.append(svg("title", {}, `${item.decade}s: average rating ` +
          `${format(item.avg_rating, 2)} over ${item.rated_movie_count} rated movies`));
        root.append(bar, svg("text", { x: left + slot * 0.35, y: plot.bottom + 20,
          class: "tick", "text-anchor": "middle" }, `${item.decade}s`));
      });
      finish(panel, status, "ready", decades.length, "");
    } catch (error) {
      failed(panel, status, error);
    }
  }

  // --- recommendations ----------------------------------------------------------------

  async function showRecommendations(movie) {
    const panel = $("recommendations");
    const status = $("recommendations-status");
    const list = $("recommendations-list");
    panel.dataset.state = "loading";
    panel.dataset.movieId = String(movie.id);
    $("recommendations-heading").textContent = `Recommendations for ${movieLabel(movie)}`;
    status.textContent = "Loading…";
    list.replaceChildren();
    try {
      const body = await getJson(`movies/${movie.id}/recommendations`, { limit: 10 });
      list.replaceChildren(...body.items.map((item) => {
        const entry = element("li");
        entry.append(element("strong", movieLabel(item)),
          element("span", ` score ${format(item.score, 2)}: ${item.reason}`));
        return entry;
      }));
      const message = body.items.length ? "" : "No recommendations for this movie.";
      finish(panel, status, body.items.length ? "ready" : "empty", body.items.length, message);
    } catch (error) {
      failed(panel, status, error);
    }
    panel.focus();
  }

  // --- search as you type -------------------------------------------------------------

  function setUpSearch() {
    const input = $("search-input");
    const list = $("search-results");
    const status = $("search-status");
    const section = $("search-section");
    let timer = null;
    let latestRequest = 0;
    let active = -1;
    let results = [];

    function close() {
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      active = -1;
    }

    function highlight(index) {
      const options = [...list.children];
      options.forEach((option, position) =>
        option.setAttribute("aria-selected", String(position === index)));
      active = index;
      if (index >= 0) {
        input.setAttribute("aria-activedescendant", options[index].id);
        options[index].scrollIntoView({ block: "nearest" });
      } else {
        input.removeAttribute("aria-activedescendant");
      }
    }

    function choose(index) {
      const movie = results[index];
      if (!movie) return;
      close();
      showRecommendations(movie);
    }

    async function search(query) {
      const request = ++latestRequest;
      if (!query.trim()) {
        results = [];
        list.replaceChildren();
        close();
        status.textContent = "";
        section.dataset.results = "0";
        return;
      }
      try {
        const body = await getJson("search", { q: query, limit: SEARCH_LIMIT });
        if (request !== latestRequest) return; // a newer query is on its way
        results = body.items;
        list.replaceChildren(...results.map((movie, index) => {
          const option = element("li", movieLabel(movie), {
            id: `search-result-${index}`,
            role: "option",
            "aria-selected": "false",
            "data-movie-id": movie.id,
          });
          option.addEventListener("mousedown", (event) => event.preventDefault());
          option.addEventListener("click", () => choose(index));
          return option;
        }));
        list.hidden = results.length === 0;
        input.setAttribute("aria-expanded", String(results.length > 0));
        active = -1;
        status.textContent = `${body.total} movies match "${query}"` +
          (body.total > results.length ? `; the first ${results.length} are listed.` : ".");
        section.dataset.results = String(results.length);
        section.dataset.query = query;
      } catch (error) {
        if (request !== latestRequest) return;
        results = [];
        list.replaceChildren();
        close();
        status.textContent = `Search failed: ${error.message}`;
        section.dataset.results = "0";
      }
    }

    input.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(() => search(input.value), SEARCH_DELAY_MS);
    });
    input.addEventListener("keydown", (event) => {
      if (event.key === "ArrowDown" && results.length) {
        event.preventDefault();
        list.hidden = false;
        input.setAttribute("aria-expanded", "true");
        highlight((active + 1) % results.length);
      } else if (event.key === "ArrowUp" && results.length) {
        event.preventDefault();
        highlight(active <= 0 ? results.length - 1 : active - 1);
      } else if (event.key === "Enter" && active >= 0) {
        event.preventDefault();
        choose(active);
      } else if (event.key === "Escape") {
        close();
      }
    });
    input.addEventListener("blur", close);

    // /dashboard?q=words starts with that search, as a link to a search can.
    const query = new URLSearchParams(window.location.search).get("q");
    if (query) {
      input.value = query;
      search(query);
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    setUpSearch();
    loadTrending();
    loadGenreStats();
    loadDecades();
  });
})();
