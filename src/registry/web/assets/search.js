// The search page for initiators. Everything it loads comes from the registry itself.
//
// Safety rules this script keeps:
// - search terms, the location and the message travel only in POST bodies to the API calls that
//   need them: never in the address, the history, storage, or the page's text;
// - "use my location" is rounded here to the registry's coarse grid before it leaves the browser;
// - the quick exit (button or Esc) empties the page, ends its session and replaces it in history
//   with a neutral site;
// - the initiator's key lives in an HttpOnly cookie this script can never read; calls that use it
//   send the X-Registry-Page header, which a page on another site cannot send.
"use strict";

(() => {
  const EXIT_URL = "https://www.bbc.com/weather";
  const PAGE_HEADER = { "X-Registry-Page": "1" };
  const JSON_TYPE = { "Content-Type": "application/json" };
  // Cell size of the grid that initiators' places are kept on (registry.locations.geo.MIN_CELL_KM),
  // written into the page by the server.
  const CELL_KM = Number(document.documentElement.dataset.cellKm) || 5;
  // The shortest degree of latitude on the WGS84 ellipsoid, as registry.locations.geo sizes cells.
  const MIN_KM_PER_DEGREE = 110.574;
  const VOCABULARIES = [
    "side", "partner_kind", "population", "language", "format",
    "course_topic", "evaluation_design", "evaluation_stage", "specialty",
  ];
  const BANDS = {
    under_5_km: "under 5 km away",
    "5_to_10_km": "5 to 10 km away",
    "10_to_25_km": "10 to 25 km away",
    "25_to_50_km": "25 to 50 km away",
    "50_to_100_km": "50 to 100 km away",
    over_100_km: "over 100 km away",
  };
  const FACTORS = {
    distance: "How near it is",
    side: "Side of IPV it works with",
    population: "People it serves",
    language: "Languages",
    format: "Group formats",
    strength: "Strengths as a partner",
    accepting: "Taking new partners",
    freshness: "Listing kept up to date",
  };
  const KIND_TITLES = {
    clinician: "Clinicians",
    treatment_program: "Treatment programs",
    evaluator: "Evaluators",
    trainer: "Trainers",
    peer_program: "Peer programs",
  };
  // Reasons that name codes ("Serves populations you named: {}.") and the vocabulary of those codes.
  const REASON_VOCABULARY = {
    population_overlap: "population",
    language_match: "language",
    country_language: "language",
    format_overlap: "format",
    evaluation_methods: "evaluation_design",
    courses_cover: "course_topic",
    courses_miss: "course_topic",
  };

  const $ = (id) => document.getElementById(id);
  const state = {
    labels: {}, // vocabulary -> code -> label
    reasonTemplates: {}, // reason code -> text with {}
    point: null, // the snapped point, when "use my location" was chosen
    signedIn: null, // null: not known yet
    asking: null, // the listing an introduction form is open for
    terms: {}, // vocabulary -> its terms
  };

  // --- quick exit ---------------------------------------------------------------------------------

  function quickExit(event) {
    if (event) event.preventDefault();
    // Empty the page first, so nothing of the search stays on screen while the other site loads.
    document.title = "Weather";
    document.body.replaceChildren();
    state.point = null;
    state.asking = null;
    try {
      // Ends the session cookie as the page goes; keepalive lets the request outlive the page.
      fetch("/web/session", { method: "DELETE", keepalive: true, credentials: "same-origin" });
    } catch (_) {
      // Leaving matters more than the cookie.
    }
    // replace, not assign: the page's own entry in the history is overwritten.
    window.location.replace(EXIT_URL);
  }

  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" || event.key === "Esc") quickExit(event);
  });

  // --- helpers --------------------------------------------------------------------------------------

  function el(tag, attributes, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "text") node.textContent = value;
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child !== null && child !== undefined) node.append(child);
    }
    return node;
  }

  function label(vocabulary, code) {
    const labels = state.labels[vocabulary] || {};
    return labels[code] || String(code).replaceAll("_", " ");
  }

  function labels(vocabulary, codes) {
    return (codes || []).map((code) => label(vocabulary, code)).join(", ");
  }

  async function problemOf(response) {
    try {
      const body = await response.json();
      if (body && body.detail) return body.detail;
    } catch (_) {
      // not a problem document
    }
    return `The registry answered ${response.status}.`;
  }

  async function getJson(path) {
    const response = await fetch(path, { credentials: "omit", headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(await problemOf(response));
    return response.json();
  }

  // --- the coarse grid (a port of registry.locations.geo.grid_cell) --------------------------------

  const radians = (d) => (d * Math.PI) / 180;
  const degrees = (r) => (r * 180) / Math.PI;
  const round5 = (x) => Number(x.toFixed(5)) + 0; // + 0 turns -0 into 0, as the server does

  function snapToGrid(latitude, longitude) {
    const latStep = CELL_KM / MIN_KM_PER_DEGREE;
    const rowsPerHemisphere = Math.floor(90 / latStep);
    const row = Math.min(Math.max(Math.floor(latitude / latStep), -rowsPerHemisphere), rowsPerHemisphere - 1);
    const south = row === -rowsPerHemisphere ? -90 : row * latStep;
    const north = row === rowsPerHemisphere - 1 ? 90 : (row + 1) * latStep;
    const cosPoleward = Math.cos(radians(Math.max(Math.abs(south), Math.abs(north))));
    const sinHalfCell = Math.sin(radians(CELL_KM / MIN_KM_PER_DEGREE) / 2);
    let columns = 1;
    if (sinHalfCell < cosPoleward) {
      const minLonStep = degrees(2 * Math.asin(sinHalfCell / cosPoleward));
      columns = Math.max(1, Math.floor(360 / minLonStep));
    }
    const lonStep = 360 / columns;
    const column = (((Math.floor((longitude + 180) / lonStep)) % columns) + columns) % columns;
    const west = -180 + column * lonStep;
    return { latitude: round5((south + north) / 2), longitude: round5((west + (west + lonStep)) / 2) };
  }

  function useMyLocation() {
    const note = $("where-note");
    if (!navigator.geolocation) {
      showSearchError("This browser cannot tell your location; type a town or ZIP code instead.");
      return;
    }
    $("locate").disabled = true;
    navigator.geolocation.getCurrentPosition(
      (position) => {
        // Only the cell's centre is kept; the precise reading goes out of scope here.
        state.point = snapToGrid(position.coords.latitude, position.coords.longitude);
        $("where").value = "";
        $("where").disabled = true;
        $("locate").hidden = true;
        $("locate").disabled = false;
        $("forget-location").hidden = false;
        note.textContent = `Using your location, rounded in this browser to a ${CELL_KM} km square.`;
        $("forget-location").focus();
      },
      () => {
        $("locate").disabled = false;
        showSearchError("Your location could not be read; type a town or ZIP code instead.");
      },
      { enableHighAccuracy: false, maximumAge: 0, timeout: 20000 },
    );
  }

  function forgetLocation() {
    state.point = null;
    $("where").disabled = false;
    $("locate").hidden = false;
    $("forget-location").hidden = true;
    $("where-note").textContent =
      `Your location is rounded in this browser to a square of ${CELL_KM} km before it is sent, ` +
      "and is never shown on this page.";
    $("where").focus();
  }

  // --- the form's choices, from the registry's vocabularies ----------------------------------------

  function renderChoices() {
    for (const box of document.querySelectorAll(".options[data-vocabulary]")) {
      const vocabulary = box.dataset.vocabulary;
      const terms = state.terms[vocabulary] || [];
      box.replaceChildren(
        ...terms
          .filter((term) => !term.retired)
          .map((term) => {
            const id = `${box.dataset.name}-${term.code}`;
            const input = el("input", {
              type: box.dataset.input,
              id,
              name: box.dataset.name,
              value: term.code,
            });
            return el("label", { for: id }, input, el("span", { text: term.label }));
          }),
      );
    }
    const languages = document.querySelector('[data-name="languages"]');
    languages.addEventListener("change", () => {
      const n = languages.querySelectorAll("input:checked").length;
      $("language-count").textContent = n ? `(${n} chosen)` : "";
    });
  }

  async function loadVocabularies() {
    state.terms = {};
    const [taxonomies, explanations] = await Promise.all([
      Promise.all(VOCABULARIES.map((name) => getJson(`/taxonomies/${name}`))),
      getJson("/matches/explanations"),
    ]);
    for (const taxonomy of taxonomies) {
      state.terms[taxonomy.name] = taxonomy.terms;
      state.labels[taxonomy.name] = Object.fromEntries(taxonomy.terms.map((t) => [t.code, t.label]));
    }
    for (const reason of explanations.reasons) state.reasonTemplates[reason.code] = reason.text;
    renderChoices();
  }

  // --- search ---------------------------------------------------------------------------------------

  function showSearchError(text) {
    $("search-error").textContent = text;
  }

  function checked(name) {
    return Array.from(document.querySelectorAll(`input[name="${name}"]:checked`), (input) => input.value);
  }

  function matchRequest() {
    const body = { include_remote: true, per_kind: 5, radius_km: Number($("radius").value) };
    const where = $("where").value.trim();
    if (state.point) {
      body.location = { latitude: state.point.latitude, longitude: state.point.longitude };
    } else if (/^\d{5}(-\d{4})?$/.test(where)) {
      body.location = { postal_code: where };
    } else if (where) {
      body.location = { place: where };
    }
    const side = checked("side");
    if (side.length) body.side = side[0];
    const needs = checked("needs");
    if (needs.length) body.needs = needs;
    const populations = checked("populations");
    if (populations.length) body.populations = populations;
    const languages = checked("languages");
    if (languages.length) body.languages = languages;
    return body;
  }

  async function search(event) {
    event.preventDefault();
    showSearchError("");
    closeAsk();
    const body = matchRequest();
    if (!body.side) {
      showSearchError("Choose which side of intimate partner violence your group is for.");
      const first = document.querySelector('input[name="side"]');
      if (first) first.focus();
      return;
    }
    const button = $("search-button");
    button.disabled = true;
    $("status").textContent = "Searching…";
    try {
      // No credentials: a search is never tied to anyone's profile.
      const response = await fetch("/matches", {
        method: "POST",
        credentials: "omit",
        headers: { ...JSON_TYPE, Accept: "application/json" },
        body: JSON.stringify(body),
      });
      if (!response.ok) {
        const problem = await problemOf(response);
        $("status").textContent = "The search did not run.";
        showSearchError(problem);
        return;
      }
      renderResults(await response.json());
    } catch (_) {
      $("status").textContent = "The search did not run.";
      showSearchError("The registry could not be reached. Try again in a moment.");
    } finally {
      button.disabled = false;
    }
  }

  // --- results --------------------------------------------------------------------------------------

  function reasonText(reason) {
    const template = state.reasonTemplates[reason.code];
    const vocabulary = REASON_VOCABULARY[reason.code];
    if (!template || !vocabulary || !template.includes("{}")) return reason.text;
    const [before, after] = template.split("{}");
    if (!reason.text.startsWith(before) || !reason.text.endsWith(after)) return reason.text;
    const named = reason.text.slice(before.length, reason.text.length - after.length);
    return before + labels(vocabulary, named.split(", ")) + after;
  }

  function distanceText(candidate) {
    if (!candidate.in_reach) {
      return candidate.distance_band
        ? `${BANDS[candidate.distance_band] || candidate.distance_band}, beyond your radius; works remotely`
        : "works remotely";
    }
    if (!candidate.distance_band) return "distance not known";
    return BANDS[candidate.distance_band] || candidate.distance_band;
  }

  function percent(x) {
    return `${Math.round(x * 100)}%`;
  }

  function breakdownTable(candidate, headingId) {
    const rows = candidate.breakdown.map((part) =>
      el(
        "tr",
        {},
        el("th", { scope: "row", text: FACTORS[part.factor] || part.factor }),
        el("td", { class: "number", text: percent(part.weight) }),
        el("td", { class: "number", text: percent(part.value) }),
        el("td", { class: "number", text: (part.contribution * 100).toFixed(1) }),
      ),
    );
    return el(
      "table",
      { class: "breakdown", "aria-describedby": headingId },
      el("caption", { text: `How the score of ${Math.round(candidate.score * 100)} out of 100 adds up` }),
      el(
        "thead",
        {},
        el(
          "tr",
          {},
          el("th", { scope: "col", text: "What counts" }),
          el("th", { scope: "col", class: "number", text: "Weight" }),
          el("th", { scope: "col", class: "number", text: "Fit" }),
          el("th", { scope: "col", class: "number", text: "Points" }),
        ),
      ),
      el("tbody", {}, ...rows),
    );
  }

  function place(listing) {
    return [listing.locality, listing.region, listing.country].filter(Boolean).join(", ") || null;
  }

  function detailList(listing) {
    const items = [];
    const add = (term, value) => {
      if (value) items.push(el("dt", { text: term }), el("dd", { text: value }));
    };
    add("Formats", labels("format", listing.formats));
    add("People it serves", labels("population", listing.populations));
    add("Languages", labels("language", listing.languages));
    add("Experience", labels("specialty", listing.specialties));
    add("Evaluation", label("evaluation_stage", listing.evaluation_stage));
    for (const contact of listing.contacts || []) {
      const parts = [contact.name, contact.role, contact.email, contact.phone].filter(Boolean);
      add("Public contact", parts.join(", "));
    }
    return items.length ? el("dl", { class: "detail" }, ...items) : null;
  }

  function resultItem(candidate) {
    const listing = candidate.listing;
    const headingId = `result-${listing.id}`;
    const facts = [
      el("li", { class: "band", text: distanceText(candidate) }),
      el("li", { text: label("partner_kind", listing.kind) }),
      listing.side ? el("li", { text: `For: ${label("side", listing.side)}` }) : null,
      place(listing) ? el("li", { text: place(listing) }) : null,
      el("li", { text: `Score ${Math.round(candidate.score * 100)} out of 100` }),
    ];
    const ask = el("button", {
      type: "button",
      class: "primary ask-button",
      "data-listing": listing.id,
      "aria-describedby": headingId,
      text: "Ask for an introduction",
    });
    ask.addEventListener("click", () => openAsk(listing, ask));
    return el(
      "li",
      { class: "result", "data-listing-id": listing.id },
      el("h4", { id: headingId, text: listing.name }),
      el("ul", { class: "facts", "aria-label": "In short" }, ...facts),
      listing.description ? el("p", { text: listing.description }) : null,
      el("p", { class: "hint", text: "Why it is here:" }),
      el("ul", { class: "reasons" }, ...candidate.reasons.map((r) => el("li", { text: reasonText(r) }))),
      detailList(listing),
      breakdownTable(candidate, headingId),
      el("div", { class: "row" }, ask),
    );
  }

  function renderResults(answer) {
    const sections = [];
    const counts = [];
    for (const [kind, candidates] of Object.entries(answer.results)) {
      const title = KIND_TITLES[kind] || label("partner_kind", kind);
      const one = label("partner_kind", kind).toLowerCase();
      counts.push(`${candidates.length} ${candidates.length === 1 ? one : title.toLowerCase()}`);
      const held = answer.held_back[kind] || 0;
      sections.push(
        el(
          "section",
          { class: "kind", "aria-labelledby": `kind-${kind}` },
          el("h3", { id: `kind-${kind}`, text: `${title} (${candidates.length})` }),
          candidates.length
            ? el("ol", { class: "results" }, ...candidates.map(resultItem))
            : el("p", { text: "None found for this search." }),
          held
            ? el("p", {
                class: "hint",
                text: `${held} more from organizations already listed twice here were left out.`,
              })
            : null,
        ),
      );
    }
    $("results").replaceChildren(...sections);
    const total = Object.values(answer.results).reduce((n, list) => n + list.length, 0);
    // The place searched from is not repeated on the page (the answer's echo names its locality).
    $("status").textContent = total
      ? `Found ${total} possible partners: ${counts.join(", ")}.`
      : "No partners found. Try a wider distance or fewer choices.";
  }

  // --- asking for an introduction -------------------------------------------------------------------

  async function knowSession() {
    if (state.signedIn !== null) return state.signedIn;
    try {
      const response = await fetch("/initiators/me", {
        credentials: "same-origin",
        headers: { ...PAGE_HEADER, Accept: "application/json" },
      });
      state.signedIn = response.ok;
    } catch (_) {
      state.signedIn = false;
    }
    showSession();
    return state.signedIn;
  }

  function showSession() {
    $("session-note").hidden = !state.signedIn;
    $("ask-profile").hidden = Boolean(state.signedIn);
  }

  async function openAsk(listing, button) {
    const form = $("ask");
    state.asking = { listing, button };
    $("ask-title").textContent = `Ask ${listing.name} for an introduction`;
    $("ask-error").textContent = "";
    button.closest(".result").append(form);
    form.hidden = false;
    await knowSession();
    $("ask-message").focus();
  }

  function closeAsk() {
    const form = $("ask");
    if (!form) return;
    form.hidden = true;
    $("ask-message").value = "";
    $("ask-error").textContent = "";
    document.querySelector("main").append(form);
    const asking = state.asking;
    state.asking = null;
    return asking;
  }

  async function openSession() {
    const response = await fetch("/web/session", {
      method: "POST",
      credentials: "same-origin",
      headers: { ...PAGE_HEADER, ...JSON_TYPE, Accept: "application/json" },
      body: JSON.stringify({ display_name: $("ask-name").value.trim(), email: $("ask-email").value.trim() }),
    });
    if (!response.ok) throw new Error(await problemOf(response));
    state.signedIn = true;
    showSession();
    $("ask-name").value = "";
    $("ask-email").value = "";
  }

  async function sendAsk(event) {
    event.preventDefault();
    const asking = state.asking;
    if (!asking) return;
    const message = $("ask-message").value;
    const error = $("ask-error");
    error.textContent = "";
    if (!message.trim()) {
      error.textContent = "Write a message to the organization first.";
      $("ask-message").focus();
      return;
    }
    if (!state.signedIn && (!$("ask-name").value.trim() || !$("ask-email").value.trim())) {
      error.textContent = "Give a name and an email, so the organization can answer you.";
      $(!$("ask-name").value.trim() ? "ask-name" : "ask-email").focus();
      return;
    }
    $("ask-send").disabled = true;
    try {
      if (!state.signedIn) await openSession();
      const response = await fetch("/introductions", {
        method: "POST",
        credentials: "same-origin",
        headers: { ...PAGE_HEADER, ...JSON_TYPE, Accept: "application/json" },
        body: JSON.stringify({ target_id: asking.listing.id, message }),
      });
      if (response.status === 401) {
        state.signedIn = false;
        showSession();
        error.textContent = "This browser's session has ended. Give a name and an email again, then send.";
        $("ask-name").focus();
        return;
      }
      if (!response.ok) {
        error.textContent = await problemOf(response);
        return;
      }
      closeAsk();
      const done = el("p", {
        class: "asked",
        tabindex: "-1",
        text: "Request sent. They see your message now, and your name and email if they accept.",
      });
      asking.button.replaceWith(done);
      done.focus(); // the form that had focus is gone
      $("status").textContent = `Your request went to ${asking.listing.name}.`;
    } catch (failure) {
      error.textContent = failure instanceof Error ? failure.message : "The request was not sent.";
    } finally {
      $("ask-send").disabled = false;
    }
  }

  async function forgetMe() {
    try {
      const response = await fetch("/web/session", { method: "DELETE", credentials: "same-origin" });
      if (!response.ok) throw new Error(await problemOf(response));
      state.signedIn = false;
      showSession();
      $("status").textContent = "This browser no longer keeps your introduction session.";
    } catch (_) {
      $("status").textContent = "The registry could not be reached; try again in a moment.";
    }
  }

  // --- start ----------------------------------------------------------------------------------------

  function start() {
    $("quick-exit").addEventListener("click", quickExit);
    $("cell-km").textContent = String(CELL_KM);
    $("search").addEventListener("submit", search);
    $("locate").addEventListener("click", useMyLocation);
    $("forget-location").addEventListener("click", forgetLocation);
    $("ask").addEventListener("submit", sendAsk);
    $("ask-cancel").addEventListener("click", () => {
      const asking = closeAsk();
      if (asking) asking.button.focus();
    });
    $("forget-me").addEventListener("click", forgetMe);
    loadVocabularies().catch((failure) => {
      showSearchError(`The registry's lists could not be loaded: ${failure.message}`);
    });
  }

  start();
})();
