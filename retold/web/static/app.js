// retold web page, three modes:
// - Compare two: collects two articles, calls POST /compare?format=html and shows the report.
// - Trace one: POST /trace with one article, lists the ranked candidates of the store; clicking one
//   calls POST /compare/{id}?format=html (the article against that stored document).
// - Graph: GET /edges (paged, optionally for one document), clusters and edges; clicking an edge
//   calls GET /compare/{derivative}/{source}?format=html.
// Reports are shown in sandboxed iframes. Everything that comes from a user or from the API (titles,
// ids, file names, error messages) is put on the page with textContent / createElement, never as
// markup.
'use strict';

(function () {
  var SIDES = ['a', 'b'];
  var MODES = ['compare', 'trace', 'graph'];
  var GRAPH_PAGE = 50;
  var files = {a: null, b: null, t: null};
  var maxBodyBytes = null;
  var health = null;          // the answer of GET /health, once known
  var healthLoaded = null;    // a promise of it
  var traceArticle = null;    // the article last traced: {text, name}
  var graph = {offset: 0, total: 0, doc: '', loaded: false};

  function $(id) { return document.getElementById(id); }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function formatBytes(n) {
    if (n < 1024) return n + ' B';
    if (n < 1024 * 1024) return (n / 1024).toFixed(1) + ' KB';
    return (n / (1024 * 1024)).toFixed(1) + ' MB';
  }

  function percent(share) { return Math.round(Number(share) * 100) + '%'; }

  // --- messages ------------------------------------------------------------------------------------

  function setStatus(id, text) { $(id).textContent = text; }

  function clearError(id) {
    var box = $(id);
    box.hidden = true;
    box.replaceChildren();
  }

  function showError(id, title, items) {
    var box = $(id);
    box.replaceChildren(el('strong', null, title));
    if (items && items.length) {
      var list = el('ul');
      items.forEach(function (item) { list.appendChild(el('li', null, item)); });
      box.appendChild(list);
    }
    box.hidden = false;
  }

  function errorItems(detail) {
    if (typeof detail === 'string') return [detail];
    if (Array.isArray(detail)) {
      return detail.map(function (d) {
        var where = Array.isArray(d.loc) ? d.loc.filter(function (p) { return p !== 'body'; }).join('.') : '';
        return (where ? where + ': ' : '') + String(d.msg);
      });
    }
    return [];
  }

  var TITLES = {404: 'Not found.', 413: 'Too large.', 415: 'Unsupported input.', 422: 'This input cannot be used.',
                503: 'The server cannot do this now.', 504: 'That took too long.'};

  // Show a failed answer in the error box `id`; returns nothing useful.
  async function showFailure(id, response, fallbackTitle) {
    var detail = null;
    try { detail = (await response.json()).detail; } catch (e) { detail = null; }
    showError(id, TITLES[response.status] || fallbackTitle || ('The server answered ' + response.status + '.'),
              errorItems(detail));
  }

  // srcdoc takes the page as a string: the browser parses it inside the sandboxed frame, an opaque
  // origin that can neither read this page nor call the API.
  function showReport(frameId, sectionId, page) {
    var frame = $(frameId);
    frame.srcdoc = page;
    $(sectionId).hidden = false;
    frame.scrollIntoView({behavior: 'smooth', block: 'start'});
  }

  // --- articles: pasted text or a dropped / chosen file --------------------------------------------

  function setFile(side, file) {
    files[side] = file;
    var text = $('text-' + side);
    var chip = $('chip-' + side);
    if (!text.dataset.placeholder) text.dataset.placeholder = text.placeholder;
    if (file) {
      $('file-name-' + side).textContent = file.name + ' (' + formatBytes(file.size) + ')';
      chip.hidden = false;
      text.value = '';
      text.disabled = true;
      text.placeholder = 'The file ' + file.name + ' will be used. Remove it to paste text instead.';
    } else {
      chip.hidden = true;
      $('file-name-' + side).textContent = '';
      $('file-' + side).value = '';
      text.disabled = false;
      text.placeholder = text.dataset.placeholder;
    }
  }

  function wire(side) {
    var text = $('text-' + side);
    var section = text.closest('.input');
    $('file-' + side).addEventListener('change', function (ev) {
      var chosen = ev.target.files && ev.target.files[0];
      if (chosen) setFile(side, chosen);
    });
    $('clear-' + side).addEventListener('click', function () { setFile(side, null); text.focus(); });
    ['dragenter', 'dragover'].forEach(function (type) {
      section.addEventListener(type, function (ev) {
        ev.preventDefault();
        text.classList.add('dragging');
      });
    });
    ['dragleave', 'dragend'].forEach(function (type) {
      section.addEventListener(type, function () { text.classList.remove('dragging'); });
    });
    section.addEventListener('drop', function (ev) {
      ev.preventDefault();
      text.classList.remove('dragging');
      var dropped = ev.dataTransfer && ev.dataTransfer.files && ev.dataTransfer.files[0];
      if (dropped) {
        setFile(side, dropped);
      } else if (ev.dataTransfer) {
        var plain = ev.dataTransfer.getData('text/plain');
        if (plain && !files[side]) text.value = plain;
      }
    });
  }

  // --- Compare two ------------------------------------------------------------------------------------

  function buildCompareRequest() {
    var problems = [];
    var size = 0;
    SIDES.forEach(function (side) {
      var label = 'Article ' + side.toUpperCase();
      if (files[side]) {
        if (files[side].size === 0) problems.push(label + ': the file ' + files[side].name + ' is empty');
        size += files[side].size;
      } else if (!$('text-' + side).value.trim()) {
        problems.push(label + ': paste the text or drop a file');
      } else {
        size += $('text-' + side).value.length;
      }
    });
    if (maxBodyBytes && size > maxBodyBytes) {
      problems.push('The two articles are ' + formatBytes(size) + '; the server accepts at most ' +
        formatBytes(maxBodyBytes) + ' per request');
    }
    if (problems.length) return {problems: problems};
    if (files.a || files.b) {
      var form = new FormData();
      SIDES.forEach(function (side) {
        if (files[side]) {
          form.append(side, files[side], files[side].name);
        } else {
          form.append(side, new Blob([$('text-' + side).value], {type: 'text/plain'}), side + '.txt');
        }
      });
      return {init: {method: 'POST', body: form}};
    }
    var payload = {a: {text: $('text-a').value, name: 'A'}, b: {text: $('text-b').value, name: 'B'}};
    return {init: {method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify(payload)}};
  }

  async function compare(ev) {
    ev.preventDefault();
    clearError('error');
    var request = buildCompareRequest();
    if (request.problems) {
      showError('error', 'Two articles are needed.', request.problems);
      return;
    }
    var button = $('compare');
    button.disabled = true;
    setStatus('status', 'Comparing\u2026');
    var started = performance.now();
    try {
      var response = await fetch('/compare?format=html', request.init);
      if (!response.ok) {
        await showFailure('error', response);
        setStatus('status', '');
        return;
      }
      showReport('report', 'result', await response.text());
      setStatus('status', 'Compared in ' + Math.round(performance.now() - started) + ' ms.');
    } catch (err) {
      showError('error', 'The server could not be reached.', [String(err && err.message || err)]);
      setStatus('status', '');
    } finally {
      button.disabled = false;
    }
  }

  // --- Trace one ---------------------------------------------------------------------------------------

  var RELATIONS = {
    source: 'source of the article',
    related: 'one rewritten from the other, direction unclear',
    derivative: 'rewritten from the article',
    unrelated: 'not derived'
  };

  async function readTraceArticle() {
    if (files.t) {
      if (files.t.size === 0) return {problem: 'the file ' + files.t.name + ' is empty'};
      if (maxBodyBytes && files.t.size > maxBodyBytes) {
        return {problem: 'the file is ' + formatBytes(files.t.size) + '; the server accepts at most ' +
          formatBytes(maxBodyBytes) + ' per request'};
      }
      return {article: {text: await files.t.text(), name: files.t.name}};
    }
    var text = $('text-t').value;
    if (!text.trim()) return {problem: 'paste the text or drop a file'};
    return {article: {text: text, name: 'article'}};
  }

  function docLabel(doc) {
    return doc.title || doc.name || doc.id;
  }

  function sourceItem(source) {
    var item = el('li', 'source rel-' + source.relation);
    var head = el('div', 'source-head');
    head.appendChild(el('span', 'rank', '#' + source.rank));
    var open = el('button', 'open', docLabel(source.document));
    open.type = 'button';
    open.title = 'Show the article and this document side by side';
    open.addEventListener('click', function () { traceCompare(source, open); });
    head.appendChild(open);
    item.appendChild(head);
    var facts = el('dl', 'facts-grid');
    function fact(name, value, className) {
      var wrap = el('div', className);
      wrap.appendChild(el('dt', null, name));
      wrap.appendChild(el('dd', null, value));
      facts.appendChild(wrap);
    }
    fact('relation', RELATIONS[source.relation] || source.relation, 'relation');
    fact('verdict', (source.derived ? 'derived' : 'not derived') + ', p = ' + Number(source.probability).toFixed(2));
    fact('type', source.type);
    fact('coverage', percent(source.coverage.article) + ' of the article, ' +
      percent(source.coverage.candidate) + ' of this document');
    if (source.derived) {
      var arrow = source.direction.source === 'candidate' ? 'article \u2190 this document' : 'this document \u2190 article';
      fact('direction', arrow + ' (confidence ' + Number(source.direction.confidence).toFixed(2) + ')');
    }
    if (source.document.published) fact('published', source.document.published);
    fact('id', source.document.id, 'id');
    item.appendChild(facts);
    return item;
  }

  async function trace(ev) {
    ev.preventDefault();
    clearError('trace-error');
    if (!(await needStore('trace'))) return;
    var read = await readTraceArticle();
    if (read.problem) {
      showError('trace-error', 'An article is needed.', ['Article: ' + read.problem]);
      return;
    }
    var limit = Math.max(1, Math.min(50, parseInt($('trace-limit').value, 10) || 10));
    var button = $('trace');
    button.disabled = true;
    setStatus('trace-status', 'Tracing\u2026');
    var started = performance.now();
    try {
      var response = await fetch('/trace', {method: 'POST', headers: {'Content-Type': 'application/json'},
        body: JSON.stringify({article: read.article, limit: limit, compare_top: 0})});
      if (!response.ok) {
        await showFailure('trace-error', response);
        setStatus('trace-status', '');
        return;
      }
      var data = await response.json();
      traceArticle = read.article;
      renderTrace(data);
      setStatus('trace-status', 'Traced in ' + Math.round(performance.now() - started) + ' ms.');
    } catch (err) {
      showError('trace-error', 'The server could not be reached.', [String(err && err.message || err)]);
      setStatus('trace-status', '');
    } finally {
      button.disabled = false;
    }
  }

  function renderTrace(data) {
    var list = $('trace-list');
    list.replaceChildren();
    $('trace-result').hidden = true;
    var sources = data.sources || [];
    var derived = sources.filter(function (s) { return s.relation === 'source'; }).length;
    var summary = sources.length + ' candidate' + (sources.length === 1 ? '' : 's') + ' compared in the store ' +
      data.store + ': ' + derived + ' source' + (derived === 1 ? '' : 's') + ' of this article.';
    if (data.article && data.article.in_store) summary += ' The article itself is in the store (left out).';
    if (!sources.length) summary = 'No candidate in the store ' + data.store + ' shares enough with this article.';
    $('trace-summary').textContent = summary;
    sources.forEach(function (source) { list.appendChild(sourceItem(source)); });
    $('trace-results').hidden = false;
  }

  async function traceCompare(source, button) {
    if (!traceArticle) return;
    clearError('trace-error');
    button.disabled = true;
    setStatus('trace-status', 'Comparing with ' + docLabel(source.document) + '\u2026');
    try {
      var response = await fetch('/compare/' + encodeURIComponent(source.document.id) + '?format=html', {
        method: 'POST', headers: {'Content-Type': 'application/json'},
        body: JSON.stringify({article: traceArticle})});
      if (!response.ok) {
        await showFailure('trace-error', response);
        setStatus('trace-status', '');
        return;
      }
      var page = await response.text();
      $('trace-report-title').textContent = 'The article and #' + source.rank + ' ' + docLabel(source.document);
      showReport('trace-report', 'trace-result', page);
      setStatus('trace-status', '');
    } catch (err) {
      showError('trace-error', 'The server could not be reached.', [String(err && err.message || err)]);
      setStatus('trace-status', '');
    } finally {
      button.disabled = false;
    }
  }

  // --- Graph ----------------------------------------------------------------------------------------------

  async function loadGraph(offset) {
    clearError('graph-error');
    if (!(await needStore('graph'))) return;
    var params = new URLSearchParams({limit: String(GRAPH_PAGE), offset: String(Math.max(0, offset))});
    if (graph.doc) params.set('doc', graph.doc);
    setStatus('graph-summary', 'Loading\u2026');
    try {
      var response = await fetch('/edges?' + params.toString());
      if (!response.ok) {
        await showFailure('graph-error', response);
        setStatus('graph-summary', '');
        return;
      }
      var data = await response.json();
      graph.offset = Math.max(0, offset);
      graph.total = data.total;
      graph.loaded = true;
      renderGraph(data);
    } catch (err) {
      showError('graph-error', 'The server could not be reached.', [String(err && err.message || err)]);
      setStatus('graph-summary', '');
    }
  }

  function renderGraph(data) {
    var box = $('graph-clusters');
    box.replaceChildren();
    var edges = data.edges || [];
    var first = edges.length ? graph.offset + 1 : 0;
    var last = graph.offset + edges.length;
    $('graph-range').textContent = first + '\u2013' + last + ' of ' + data.total;
    $('graph-prev').disabled = graph.offset <= 0;
    $('graph-next').disabled = last >= data.total;
    if (!data.total) {
      $('graph-summary').textContent = graph.doc
        ? 'No derivation edge touches the document ' + graph.doc + '.'
        : 'No derivation edges in this store yet: run `retold scan STORE` to find them.';
      return;
    }
    var clusters = {};
    (data.clusters || []).forEach(function (c) { clusters[c.id] = c; });
    var documents = {};
    (data.clusters || []).forEach(function (c) {
      (c.documents || []).forEach(function (d) { documents[d.id] = d; });
    });
    $('graph-summary').textContent = data.total + ' derivation edge' + (data.total === 1 ? '' : 's') +
      (graph.doc ? ' touching ' + graph.doc : '') + '. Click one to see the two articles side by side.';
    var order = [];
    var byCluster = {};
    edges.forEach(function (edge) {
      if (!byCluster[edge.cluster]) { byCluster[edge.cluster] = []; order.push(edge.cluster); }
      byCluster[edge.cluster].push(edge);
    });
    order.forEach(function (id) {
      box.appendChild(clusterCard(clusters[id] || {id: id, documents: []}, byCluster[id], documents));
    });
  }

  function clusterCard(cluster, edges, documents) {
    var card = el('section', 'cluster');
    card.dataset.cluster = cluster.id;
    var docs = cluster.documents || [];
    var edgeCount = Array.isArray(cluster.edges) ? cluster.edges.length : edges.length;
    var links = Number(cluster.same_event_links) || 0;
    card.appendChild(el('h3', null, cluster.id + ': ' + docs.length + ' articles, ' + edgeCount + ' edge' +
      (edgeCount === 1 ? '' : 's') + (links ? ', ' + links + ' same-event link' + (links === 1 ? '' : 's') : '')));
    var list = el('ul', 'members');
    docs.forEach(function (doc) {
      var item = el('li');
      var pick = el('button', 'doc', docLabel(doc));
      pick.type = 'button';
      pick.title = 'Show only the edges of this document';
      pick.addEventListener('click', function () {
        $('graph-doc').value = doc.id;
        graph.doc = doc.id;
        loadGraph(0);
      });
      item.appendChild(pick);
      if (doc.published) item.appendChild(el('span', 'published', doc.published));
      if (doc.id === cluster.earliest_source) {
        item.appendChild(el('span', 'earliest', 'earliest source (' + cluster.earliest_by + ')'));
      }
      item.appendChild(el('span', 'id', doc.id));
      list.appendChild(item);
    });
    card.appendChild(list);
    var edgeList = el('ul', 'edges');
    edges.forEach(function (edge) { edgeList.appendChild(edgeItem(edge, documents)); });
    card.appendChild(edgeList);
    return card;
  }

  var DIRECTION_CLEAR = 0.6;  // retold.judge.JudgeSettings.direction_min_confidence

  function edgeItem(edge, documents) {
    var item = el('li', 'edge');
    var derivative = documents[edge.derivative] || {id: edge.derivative};
    var source = documents[edge.source] || {id: edge.source};
    var open = el('button', 'open');
    open.type = 'button';
    open.dataset.derivative = edge.derivative;
    open.dataset.source = edge.source;
    open.title = 'Show the two articles side by side';
    open.appendChild(el('span', 'derivative', docLabel(derivative)));
    // Below the judge's direction threshold the texts did not say which came first.
    var unclear = Number(edge.direction_confidence) < DIRECTION_CLEAR;
    var arrow = el('span', 'arrow', unclear ? ' \u2194 ' : ' \u2190 ');
    if (unclear) { arrow.title = 'direction unclear: either may be the source'; }
    open.appendChild(arrow);
    open.appendChild(el('span', 'source-name', docLabel(source)));
    open.addEventListener('click', function () { graphCompare(edge, derivative, source, open); });
    item.appendChild(open);
    item.appendChild(el('span', 'edge-meta', edge.type + ' \u00b7 p = ' + Number(edge.probability).toFixed(2) +
      ' \u00b7 coverage ' + percent(edge.coverage_derivative) + ' / ' + percent(edge.coverage_source) +
      ' \u00b7 direction ' + Number(edge.direction_confidence).toFixed(2)));
    return item;
  }

  async function graphCompare(edge, derivative, source, button) {
    clearError('graph-error');
    button.disabled = true;
    var status = $('graph-summary').textContent;
    setStatus('graph-summary', 'Comparing\u2026');
    try {
      // The full (semantic) compare, whichever tier the scan decided the edge with: the lexical
      // tier is a cheap filter and misses paraphrased sentences a reader should see aligned.
      var params = new URLSearchParams({format: 'html', stage: 'semantic'});
      var response = await fetch('/compare/' + encodeURIComponent(edge.derivative) + '/' +
        encodeURIComponent(edge.source) + '?' + params.toString());
      if (!response.ok) {
        await showFailure('graph-error', response);
        return;
      }
      var page = await response.text();
      $('graph-report-title').textContent = docLabel(derivative) + ' \u2190 ' + docLabel(source);
      showReport('graph-report', 'graph-result', page);
    } catch (err) {
      showError('graph-error', 'The server could not be reached.', [String(err && err.message || err)]);
    } finally {
      setStatus('graph-summary', status);
      button.disabled = false;
    }
  }

  // --- store or no store ------------------------------------------------------------------------------

  function loadHealth() {
    if (!healthLoaded) {
      healthLoaded = fetch('/health').then(function (r) { return r.ok ? r.json() : null; }).then(function (h) {
        health = h;
        if (h && typeof h.max_body_bytes === 'number') maxBodyBytes = h.max_body_bytes;
        return h;
      }).catch(function () { return null; });
    }
    return healthLoaded;
  }

  // Whether the server has a store; when it has none, say so in the mode and disable its form.
  async function needStore(mode) {
    var known = await loadHealth();
    var notice = $(mode + '-nostore');
    if (known && known.store === false) {
      notice.textContent = 'This server has no store, so there is nothing to ' +
        (mode === 'trace' ? 'trace against' : 'browse') + '. Build one with `retold index add STORE FILES` ' +
        (mode === 'graph' ? 'and `retold scan STORE`, ' : '') + 'then start the server with `retold serve STORE`.';
      notice.hidden = false;
      Array.prototype.forEach.call($(mode + '-form').elements, function (field) { field.disabled = true; });
      return false;
    }
    notice.hidden = true;
    return true;
  }

  // --- modes ------------------------------------------------------------------------------------------------

  function showMode(mode) {
    if (MODES.indexOf(mode) < 0) mode = 'compare';
    MODES.forEach(function (name) {
      var tab = $('tab-' + name);
      var active = name === mode;
      tab.setAttribute('aria-selected', active ? 'true' : 'false');
      tab.tabIndex = active ? 0 : -1;
      $('mode-' + name).hidden = !active;
    });
    if (mode === 'trace') needStore('trace');
    if (mode === 'graph' && !graph.loaded) loadGraph(0);
  }

  function modeFromHash() { return (location.hash || '#compare').slice(1); }

  function init() {
    SIDES.concat(['t']).forEach(wire);
    $('compare-form').addEventListener('submit', compare);
    $('trace-form').addEventListener('submit', trace);
    $('graph-form').addEventListener('submit', function (ev) {
      ev.preventDefault();
      graph.doc = $('graph-doc').value.trim();
      loadGraph(0);
    });
    $('graph-all').addEventListener('click', function () {
      $('graph-doc').value = '';
      graph.doc = '';
      loadGraph(0);
    });
    $('graph-prev').addEventListener('click', function () { loadGraph(graph.offset - GRAPH_PAGE); });
    $('graph-next').addEventListener('click', function () { loadGraph(graph.offset + GRAPH_PAGE); });
    MODES.forEach(function (name, i) {
      var tab = $('tab-' + name);
      tab.addEventListener('click', function () {
        if (location.hash !== '#' + name) history.replaceState(null, '', '#' + name);
        showMode(name);
      });
      tab.addEventListener('keydown', function (ev) {  // arrow keys move between tabs
        var step = ev.key === 'ArrowRight' ? 1 : ev.key === 'ArrowLeft' ? -1 : 0;
        if (!step) return;
        var next = $('tab-' + MODES[(i + step + MODES.length) % MODES.length]);
        next.focus();
        next.click();
      });
    });
    window.addEventListener('hashchange', function () { showMode(modeFromHash()); });
    document.addEventListener('keydown', function (ev) {
      if (!((ev.ctrlKey || ev.metaKey) && ev.key === 'Enter')) return;
      var mode = MODES.filter(function (name) { return !$('mode-' + name).hidden; })[0];
      if (mode === 'compare') $('compare-form').requestSubmit();
      if (mode === 'trace') $('trace-form').requestSubmit();
    });
    loadHealth();
    showMode(modeFromHash());
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
